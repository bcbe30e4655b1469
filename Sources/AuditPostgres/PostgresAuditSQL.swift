package import AuditLog
import NIOCore
package import PostgresNIO

/// The audit log's statements on one connection, for the store (`PostgresAuditStore`) and for a
/// store that appends to the log inside a transaction of its own (the change store on
/// PostgreSQL). Every write runs inside a transaction that first took `lockAndReadTip()`.
package struct PostgresAuditSQL: Sendable {
    package let session: PostgresSession
    package let url: PostgresURL

    package init(session: PostgresSession, url: PostgresURL) {
        self.session = session
        self.url = url
    }

    /// Waits for the one row of `audit_head` (every other appender, on any node, waits until this
    /// transaction ends) and reads what a writer needs to append at the end: the size, the right
    /// edge and the last checkpoint, all in one round trip (the schema's `audit_lock_tip`),
    /// since a shared store's step holds the lock for every statement it sends.
    package func lockAndReadTip() async throws -> AuditTip {
        let operation = "lock the audit log's head and read its tip"
        let rows: [PostgresRow]
        do {
            rows = try await self.session.uncancellableRows(
                "SELECT tip_size, edge_hashes, checkpointed FROM audit_lock_tip()"
            )
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "MT404" {
            throw AuditLogError(.nodeMismatch, "\(self.url): \(error.serverInfo?[.message] ?? "a node is missing")")
        } catch {
            throw PostgresSession.translate(error, url: self.url, operation: operation)
        }
        let (size, rightEdge, checkpointed) = try self.session.decoding(operation) {
            guard let row = rows.first else {
                throw AuditLogError(.storageFailure, "\(self.url): audit_lock_tip returned no row")
            }
            let (size, hashes, checkpointed) = try row.decode((Int64, [ByteBuffer], Int64).self)
            return (UInt64(size), hashes.map { Array(buffer: $0) }, UInt64(checkpointed))
        }
        let expected = MerkleNodeID.decompose(0..<size).count
        guard rightEdge.count == expected else {
            throw AuditLogError(
                .nodeMismatch,
                "\(self.url): the right edge of \(size) entries has \(expected) nodes, the server gave \(rightEdge.count)"
            )
        }
        return AuditTip(size: size, rightEdge: rightEdge, checkpointedSize: checkpointed)
    }

    package func currentSize() async throws -> UInt64 {
        let rows = try await self.session.rows("SELECT coalesce(max(idx) + 1, 0) FROM entry", operation: "read size")
        return try self.session.decoding("read size") {
            UInt64(try rows.first?.decode(Int64.self) ?? 0)
        }
    }

    /// Writes the batch in one round trip (the schema's `audit_append`, inside the caller's
    /// transaction, which already holds the head lock: taking it again is free, and the size
    /// check under it can only fail on a batch built for another tip).
    package func append(_ batch: AuditBatch) async throws {
        do {
            _ = try await self.session.uncancellableRows(Self.appendQuery(batch))
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "MT409" {
            throw AuditLogError(
                .concurrentWriter,
                "\(self.url): \(error.serverInfo?[.message] ?? "another writer appended first")"
            )
        } catch {
            throw PostgresSession.translate(error, url: self.url, operation: "append at index \(batch.firstIndex)")
        }
    }

    package static func appendQuery(_ batch: AuditBatch) -> PostgresQuery {
        """
        SELECT audit_append(\(Int64(batch.firstIndex)), \(batch.entries.map { Int64($0.index) })::bigint[],
        \(batch.entries.map { PostgresSession.bytea($0.body) })::bytea[],
        \(batch.entries.map { PostgresSession.bytea($0.leafHash) })::bytea[],
        \(batch.nodes.map(\.key))::bigint[], \(batch.nodes.map { PostgresSession.bytea($0.hash) })::bytea[],
        \(batch.checkpoint.map { Int64($0.size) }), \(batch.checkpoint?.note))
        """
    }

    package func insertCheckpoint(_ checkpoint: StoredCheckpoint) async throws {
        try await self.session.run(
            """
            INSERT INTO checkpoint(size, note) VALUES (\(Int64(checkpoint.size)), \(checkpoint.note))
            ON CONFLICT (size) DO NOTHING
            """,
            operation: "store checkpoint \(checkpoint.size)"
        )
    }

    /// The hashes of `nodes` in order, two queries in all; a missing one is named.
    package func readHashes(of nodes: [MerkleNodeID]) async throws -> [[UInt8]] {
        guard !nodes.isEmpty else { return [] }
        let leafIndices = nodes.filter { $0.level == 0 }.map { Int64($0.index) }
        let nodeKeys = nodes.filter { $0.level != 0 }.map(\.storageKey)
        var leaves: [Int64: [UInt8]] = [:]
        var interior: [Int64: [UInt8]] = [:]
        if !leafIndices.isEmpty {
            let rows = try await self.session.rows(
                "SELECT idx, leaf_hash FROM entry WHERE idx = ANY(\(leafIndices)::bigint[])",
                operation: "read leaf hashes"
            )
            try self.session.decoding("read leaf hashes") {
                for row in rows {
                    let (index, hash) = try row.decode((Int64, ByteBuffer).self)
                    leaves[index] = Array(buffer: hash)
                }
            }
        }
        if !nodeKeys.isEmpty {
            let rows = try await self.session.rows(
                "SELECT id, hash FROM tree_node WHERE id = ANY(\(nodeKeys)::bigint[])",
                operation: "read tree hashes"
            )
            try self.session.decoding("read tree hashes") {
                for row in rows {
                    let (id, hash) = try row.decode((Int64, ByteBuffer).self)
                    interior[id] = Array(buffer: hash)
                }
            }
        }
        return try nodes.map { id in
            let hash = id.level == 0 ? leaves[Int64(id.index)] : interior[id.storageKey]
            guard let hash else {
                throw AuditLogError(.nodeMismatch, "\(self.url): \(id) is missing from the store")
            }
            return hash
        }
    }

    package func readLatestCheckpoint() async throws -> StoredCheckpoint? {
        try await self.readCheckpoints("SELECT size, note FROM checkpoint ORDER BY size DESC LIMIT 1").first
    }

    package func readCheckpoints(_ query: PostgresQuery) async throws -> [StoredCheckpoint] {
        let rows = try await self.session.rows(query, operation: "read checkpoints")
        return try self.session.decoding("read checkpoints") {
            try rows.map { row in
                let (size, note) = try row.decode((Int64, String).self)
                return StoredCheckpoint(size: UInt64(size), note: note)
            }
        }
    }
}
