package import AuditLog
import NIOCore
package import PostgresNIO

/// The audit log's statements on one connection, for the store (`PostgresAuditStore`) and for a
/// store that appends to the log inside a transaction of its own (the change store on
/// PostgreSQL). Every write runs inside a transaction that first took `lockHead()`.
package struct PostgresAuditSQL: Sendable {
    package let session: PostgresSession
    package let url: PostgresURL

    package init(session: PostgresSession, url: PostgresURL) {
        self.session = session
        self.url = url
    }

    /// After `lockHead()`: what a writer needs to append at the end.
    package func readTip() async throws -> AuditTip {
        let size = try await self.currentSize()
        return AuditTip(
            size: size,
            rightEdge: try await self.readHashes(of: MerkleNodeID.decompose(0..<size)),
            checkpointedSize: try await self.readLatestCheckpoint()?.size ?? 0
        )
    }

    /// Waits for the one row of `audit_head`: every other appender, on any node, waits here
    /// until this transaction ends.
    package func lockHead() async throws {
        let rows = try await self.session.rows(
            "SELECT id FROM audit_head WHERE id = 1 FOR UPDATE",
            operation: "lock audit_head"
        )
        guard rows.count == 1 else {
            throw AuditLogError(.storageFailure, "\(self.url): the audit_head row is missing (an edited database?)")
        }
    }

    package func currentSize() async throws -> UInt64 {
        let rows = try await self.session.rows("SELECT coalesce(max(idx) + 1, 0) FROM entry", operation: "read size")
        return try self.session.decoding("read size") {
            UInt64(try rows.first?.decode(Int64.self) ?? 0)
        }
    }

    /// Writes the batch's rows with one statement per table (arrays unnested server-side), so a
    /// commit of many entries costs a few round trips, not one per row.
    package func insert(_ batch: AuditBatch) async throws {
        if !batch.entries.isEmpty {
            let indices = batch.entries.map { Int64($0.index) }
            let bodies = batch.entries.map { PostgresSession.bytea($0.body) }
            let leaves = batch.entries.map { PostgresSession.bytea($0.leafHash) }
            try await self.session.run(
                """
                INSERT INTO entry(idx, body, leaf_hash)
                SELECT * FROM unnest(\(indices)::bigint[], \(bodies)::bytea[], \(leaves)::bytea[])
                """,
                operation: "insert entries from \(batch.firstIndex)"
            )
        }
        if !batch.nodes.isEmpty {
            let keys = batch.nodes.map(\.key)
            let hashes = batch.nodes.map { PostgresSession.bytea($0.hash) }
            try await self.session.run(
                "INSERT INTO tree_node(id, hash) SELECT * FROM unnest(\(keys)::bigint[], \(hashes)::bytea[])",
                operation: "insert tree nodes"
            )
        }
        if let checkpoint = batch.checkpoint {
            try await self.insertCheckpoint(checkpoint)
        }
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
