public import AuditPostgres
import Foundation
public import Logging
import NIOCore
public import NodeLeases
import PostgresNIO

/// Leases in the shared PostgreSQL database (schema version 2, `PostgresAuditSchema`).
///
/// Its own connection, apart from the audit log's, so a renewal never queues behind a group
/// commit. Every call is bounded by `timeout`: a database that stops answering (a cut that keeps
/// TCP up, a stopped server) fails the call, the connection is dropped and the next call
/// connects again. The keeper turns failures into "not confirmed", never into "granted".
public actor PostgresLeaseStore: LeaseStore {
    public nonisolated let url: PostgresURL
    private let timeout: Duration
    private let logger: Logger
    private var session: PostgresSession?

    static let channel = "medtunnel_release"

    public init(
        url: PostgresURL,
        timeout: Duration = .seconds(2),
        logger: Logger = Logger(label: "medtunnel.leases.postgres")
    ) {
        self.url = url
        self.timeout = timeout
        self.logger = logger
    }

    public func close() async {
        await self.session?.close()
        self.session = nil
    }

    deinit {
        // PostgresNIO requires a connection to be closed before it is released (as
        // PostgresAuditStore's deinit does).
        if let connection = self.session?.connection {
            connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
        }
    }

    // MARK: LeaseStore

    public func acquireNode(_ nodeID: String, leaseMilliseconds: Int64) async throws -> NodeAcquisition {
        let rows = try await self.query("take node lease") {
            "SELECT out_epoch, out_remaining_ms FROM node_acquire(\(nodeID), \(leaseMilliseconds))"
        }
        return try self.decode("take node lease") {
            guard let row = rows.first else { throw LeaseStoreError("node_acquire returned no row") }
            let (epoch, remaining) = try row.decode((Int64?, Int64?).self)
            if let epoch { return .acquired(epoch: epoch) }
            return .heldUntil(milliseconds: remaining ?? 1)
        }
    }

    public func renewNode(_ nodeID: String, epoch: Int64, leaseMilliseconds: Int64) async throws -> Bool {
        let rows = try await self.query("renew node lease") {
            """
            UPDATE node_lease SET expires_at = clock_timestamp() + \(leaseMilliseconds) * interval '1 millisecond'
            WHERE node_id = \(nodeID) AND epoch = \(epoch) AND expires_at > clock_timestamp() RETURNING epoch
            """
        }
        return !rows.isEmpty
    }

    public func releaseNode(_ nodeID: String, epoch: Int64) async throws {
        _ = try await self.query("release node lease") {
            "UPDATE node_lease SET expires_at = clock_timestamp() WHERE node_id = \(nodeID) AND epoch = \(epoch)"
        }
    }

    public func acquire(
        _ subject: LeaseBook.Subject,
        nodeID: String,
        nodeEpoch: Int64
    ) async throws -> SubjectAcquisition {
        let kind = subject.kind.rawValue
        let name = subject.name
        let rows = try await self.query("take \(subject)") {
            "SELECT out_owned, out_epoch, out_holder FROM lease_acquire(\(kind), \(name), \(nodeID), \(nodeEpoch))"
        }
        return try self.decode("take \(subject)") {
            guard let row = rows.first else { throw LeaseStoreError("lease_acquire returned no row") }
            let (owned, epoch, holder) = try row.decode((Bool, Int64, String).self)
            return owned ? .owned(epoch: epoch) : .held(by: holder)
        }
    }

    public func release(_ subject: LeaseBook.Subject, nodeID: String, epoch: Int64?) async throws {
        let kind = subject.kind.rawValue
        let name = subject.name
        _ = try await self.query("release \(subject)") {
            """
            UPDATE lease_owner SET node_id = NULL, node_epoch = NULL
            WHERE kind = \(kind) AND subject = \(name) AND node_id = \(nodeID)
              AND (\(epoch)::bigint IS NULL OR epoch = \(epoch)::bigint)
            """
        }
    }

    public func fence(
        _ subject: LeaseBook.Subject,
        nodeID: String,
        nodeEpoch: Int64,
        epoch: Int64
    ) async throws -> Bool {
        let kind = subject.kind.rawValue
        let name = subject.name
        let rows = try await self.query("fence \(subject)") {
            """
            SELECT EXISTS (
                SELECT 1 FROM lease_owner o JOIN node_lease l ON l.node_id = o.node_id AND l.epoch = o.node_epoch
                WHERE o.kind = \(kind) AND o.subject = \(name) AND o.node_id = \(nodeID)
                  AND o.node_epoch = \(nodeEpoch) AND o.epoch = \(epoch) AND l.expires_at > clock_timestamp())
            """
        }
        return try self.decode("fence \(subject)") { try rows.first?.decode(Bool.self) ?? false }
    }

    public func liveHolders(_ kind: LeaseBook.SubjectKind) async throws -> [String: String] {
        let name = kind.rawValue
        let rows = try await self.query("read who holds each \(name)") {
            """
            SELECT o.subject, o.node_id FROM lease_owner o
            JOIN node_lease l ON l.node_id = o.node_id AND l.epoch = o.node_epoch
            WHERE o.kind = \(name) AND l.expires_at > clock_timestamp()
            """
        }
        return try self.decode("read who holds each \(name)") {
            var holders: [String: String] = [:]
            for row in rows {
                let (subject, node) = try row.decode((String, String).self)
                holders[subject] = node
            }
            return holders
        }
    }

    public func askRelease(_ subject: LeaseBook.Subject, holder: String, from nodeID: String) async throws {
        let payload = try String(
            decoding: JSONEncoder().encode(
                ReleaseRequest(to: holder, from: nodeID, kind: subject.kind.rawValue, subject: subject.name)
            ),
            as: UTF8.self
        )
        _ = try await self.query("ask \(holder) to release \(subject)") {
            "SELECT pg_notify(\(Self.channel), \(payload))"
        }
    }

    /// A connection of its own for LISTEN: the requests arrive however busy the other is.
    public func releaseRequests(
        for nodeID: String
    ) async throws -> AsyncThrowingStream<LeaseBook.Subject, any Error> {
        let payloads = try await PostgresNotifications.payloads(
            channel: Self.channel,
            url: self.url,
            timeout: self.timeout,
            applicationName: "medtunnel-lease-listener",
            logger: self.logger
        )
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await payload in payloads {
                        guard let request = try? JSONDecoder().decode(ReleaseRequest.self, from: Data(payload.utf8)),
                            request.to == nodeID, let kind = LeaseBook.SubjectKind(rawValue: request.kind)
                        else { continue }
                        continuation.yield(LeaseBook.Subject(kind, request.subject))
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    // MARK: Connection

    struct ReleaseRequest: Codable {
        let to: String
        let from: String
        let kind: String
        let subject: String
    }

    private func query(
        _ operation: String,
        _ build: @Sendable () -> PostgresQuery
    ) async throws -> [PostgresRow] {
        let session = try await self.connected()
        let query = build()
        do {
            return try await self.bounded(operation) { try await session.uncancellableRows(query) }
        } catch {
            // Timed out or failed: the connection's state is unknown; start afresh next time.
            if self.session?.connection === session.connection {
                self.session = nil
                // Not awaited: closing a connection the network swallows may never complete.
                let connection: PostgresConnection = session.connection
                let closing: EventLoopFuture<Void> = connection.close()
                closing.whenComplete { _ in withExtendedLifetime(connection) {} }
            }
            if let error = error as? PSQLError,
                let code = error.serverInfo?[.sqlState], code == "MT410"
            {
                throw LeaseStoreError(
                    "\(self.url): \(operation): \(error.serverInfo?[.message] ?? "node lease not live")"
                )
            }
            throw PostgresSession.translate(error, url: self.url, operation: operation)
        }
    }

    private func connected() async throws -> PostgresSession {
        if let session { return session }
        let session = try await self.bounded("connect", late: { await $0.close() }) {
            try await PostgresSession.connect(
                self.url,
                logger: self.logger,
                applicationName: "medtunnel-leases",
                connectTimeout: .seconds(2)
            )
        }
        self.session = session
        return session
    }

    /// Runs `body` within `timeout` (`PostgresDeadline`).
    private func bounded<T: Sendable>(
        _ operation: String,
        late: @escaping @Sendable (T) async -> Void = { _ in },
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await PostgresDeadline.run(timeout: self.timeout, failure: "\(self.url): \(operation)", late: late, body)
    }

    private func decode<T>(_ operation: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as LeaseStoreError {
            throw error
        } catch {
            throw PostgresSession.translate(error, url: self.url, operation: operation)
        }
    }
}

public struct LeaseStoreError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
