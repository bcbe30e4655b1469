package import AuditLog
import Foundation
package import Logging
package import NIOCore
import NIOPosix
import NIOSSL
package import PostgresNIO
import Synchronization

/// One connection to the audit database, with the settings the log's promises rest on, and the
/// one place where PostgresNIO's errors become `AuditLogError`s naming the URL (never its password).
///
/// Not `Sendable` in spirit: the store owns it and runs one statement at a time on it.
package struct PostgresSession: Sendable {
    package let url: PostgresURL
    package let connection: PostgresConnection
    package let logger: Logger
    /// Each statement's bound (nil: none): past it the connection is closed, which fails the
    /// statement (a server that stopped answering, a network cut that keeps TCP up) and every
    /// later one; the owner connects again.
    package var statementTimeout: TimeAmount? = nil

    /// Connects and makes every commit durable before it returns (`synchronous_commit = on`, in
    /// case the server or the role defaults to off). An unreachable server is refused naming
    /// host:port; a refused login or missing database naming the URL.
    package static func connect(
        _ url: PostgresURL,
        logger: Logger,
        applicationName: String = "medtunnel-audit",
        connectTimeout: TimeAmount = .seconds(10)
    ) async throws -> PostgresSession {
        var configuration = PostgresConnection.Configuration(
            host: url.host,
            port: url.port,
            username: url.user,
            password: url.password,
            database: url.database,
            tls: try Self.tls(url)
        )
        configuration.options.connectTimeout = connectTimeout
        configuration.options.additionalStartupParameters = [("application_name", applicationName)]
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(
                configuration: configuration,
                id: 1,
                logger: logger
            )
        } catch let error as PSQLError where error.serverInfo == nil && Self.isTLSFailure(error) {
            throw AuditLogError(
                .storageFailure,
                "TLS to PostgreSQL at \(url.endpoint) (\(url)) failed: \(Self.cause(of: error)); the server's "
                    + "certificate must be signed by a CA in sslrootcert and name \(url.host)"
            )
        } catch let error as PSQLError where error.code == .sslUnsupported {
            throw AuditLogError(
                .storageFailure,
                "PostgreSQL at \(url.endpoint) (\(url)) does not offer TLS (ssl = off), and sslmode=verify-full requires it"
            )
        } catch let error as PSQLError where error.serverInfo == nil {
            // No answer from a PostgreSQL server at all (refused, unresolvable, timed out, cut
            // before the handshake ended): name where we tried.
            throw AuditLogError(
                .storageFailure,
                "cannot reach PostgreSQL at \(url.endpoint) (\(url)): \(Self.cause(of: error)); "
                    + "is the server running and listening there?"
            )
        } catch {
            throw Self.translate(error, url: url, operation: "connect")
        }
        let session = PostgresSession(url: url, connection: connection, logger: logger)
        try await session.run("SET synchronous_commit = on", operation: "set synchronous_commit")
        // A node stopped mid-transaction (SIGSTOP, a long pause) would hold the audit log's head
        // lock, and with it every node's appends, for as long as it stays stopped: the server
        // ends such a transaction after 2 s. Ours run their statements back to back, in
        // milliseconds.
        try await session.run(
            "SET idle_in_transaction_session_timeout = '2s'",
            operation: "set idle_in_transaction_session_timeout"
        )
        return session
    }

    /// Connects, runs `body`, and closes the connection whatever `body` did.
    static func with<T>(
        _ url: PostgresURL,
        logger: Logger,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresSession) async throws -> T
    ) async throws -> T {
        let session = try await self.connect(url, logger: logger)
        do {
            let value = try await body(session)
            await session.close()
            return value
        } catch {
            await session.close()
            throw error
        }
    }

    /// Whether a connection failed in the TLS handshake (a certificate not verified, a name
    /// mismatch), rather than before it.
    static func isTLSFailure(_ error: PSQLError) -> Bool {
        guard let underlying = error.underlying else { return false }
        return underlying is NIOSSLError || underlying is BoringSSLError
            || String(describing: type(of: underlying)).contains("SSL")
    }

    /// TLS as the URL asks: none, or verify-full against its root certificates (read now, so a
    /// missing or malformed file is named before any connection is tried).
    static func tls(_ url: PostgresURL) throws -> PostgresConnection.Configuration.TLS {
        guard case .verifyFull(let file) = url.security else { return .disable }
        let roots: [NIOSSLCertificate]
        do {
            roots = try NIOSSLCertificate.fromPEMFile(file)
        } catch {
            throw AuditLogError(
                .invalidArgument,
                "\(url): sslrootcert \(file): not a readable PEM certificate file (\(error))"
            )
        }
        guard !roots.isEmpty else {
            throw AuditLogError(.invalidArgument, "\(url): sslrootcert \(file) holds no certificate")
        }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.trustRoots = .certificates(roots)
        configuration.certificateVerification = .fullVerification
        do {
            return .require(try NIOSSLContext(configuration: configuration))
        } catch {
            throw AuditLogError(.invalidArgument, "\(url): TLS configuration: \(error)")
        }
    }

    package func close() async {
        try? await self.connection.close()
    }

    /// Runs one statement that returns no rows of interest.
    package func run(_ query: PostgresQuery, operation: String) async throws {
        _ = try await self.rows(query, operation: operation)
    }

    /// Runs one statement and collects its rows.
    package func rows(_ query: PostgresQuery, operation: String) async throws -> [PostgresRow] {
        do {
            return try await self.uncancellableRows(query)
        } catch {
            throw Self.translate(error, url: self.url, operation: operation)
        }
    }

    /// Runs one statement to its end whatever happens to the calling task, and throws
    /// PostgresNIO's own error. A group commit runs in one caller's task on behalf of every
    /// waiter: were that caller cancelled, PostgresNIO's async API would cancel the statement
    /// mid-commit, failing the others' entries and leaving the outcome unknown. Its future-based
    /// API does not watch the task, so the statement completes and the caller learns after.
    ///
    /// A connection already closed (the server ended it, e.g. a transaction left idle past
    /// `idle_in_transaction_session_timeout` while this process was too busy to send its next
    /// statement) fails the statement at once with `.databaseUnavailable`: PostgresNIO writes a
    /// statement to its channel without a write promise, so on a closed channel the statement
    /// never reaches its handler and its future never completes, and closing the connection again
    /// (the statement bound below) cannot complete it either. The caller would wait for ever, and
    /// every caller queued behind it (the audit store's `serialized`, the log's group commit).
    package func uncancellableRows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        let connection = self.connection
        let (logger, url) = (self.logger, self.url)
        // On the connection's event loop, where the channel's state cannot change between the
        // check and the write: an open channel hands the statement to PostgresNIO's handler,
        // which fails it if the connection closes later.
        let result: EventLoopFuture<PostgresQueryResult> = connection.eventLoop.flatSubmit {
            guard !connection.isClosed else {
                return connection.eventLoop.makeFailedFuture(
                    AuditLogError(
                        .databaseUnavailable,
                        "\(url): the connection was closed (by the server or the network)"
                    )
                )
            }
            return connection.query(query, logger: logger)
        }
        guard let timeout = self.statementTimeout else { return try await result.get().rows }
        let expired = ExpiryFlag()
        let deadline = connection.eventLoop.scheduleTask(in: timeout) {
            expired.value.store(true, ordering: .relaxed)
            let closing: EventLoopFuture<Void> = connection.close()
            closing.whenComplete { _ in }
        }
        do {
            let rows = try await result.get().rows
            deadline.cancel()
            return rows
        } catch {
            deadline.cancel()
            if expired.value.load(ordering: .relaxed) {
                throw AuditLogError(
                    .databaseUnavailable,
                    "\(self.url): no answer within \(timeout.nanoseconds / 1_000_000) ms; the connection was closed"
                )
            }
            throw error
        }
    }

    /// Runs `body` (decoding rows), translating a type mismatch (a column altered by hand) into an
    /// error naming the operation.
    package func decoding<T>(_ operation: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw Self.translate(error, url: self.url, operation: operation)
        }
    }

    /// `BEGIN`, `body`, `COMMIT`; `ROLLBACK` when `body` throws (its error is what is thrown).
    /// A commit returns once the server reports it durable (synchronous_commit = on).
    /// Runs on the caller's actor (`isolation`), so `body` may touch the store's state.
    func transaction<T>(
        operation: String,
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> T
    ) async throws -> T {
        try await self.run("BEGIN", operation: "\(operation): begin")
        let value: T
        do {
            value = try await body()
        } catch {
            try? await self.run("ROLLBACK", operation: "\(operation): rollback")
            throw error
        }
        try await self.run("COMMIT", operation: "\(operation): commit")
        return value
    }

    /// An `AuditLogError` naming the URL and the operation, with the server's own message when
    /// there is one. PostgresNIO's errors print a generic text on purpose (they may hold query
    /// data); the server's message and SQLSTATE name no password.
    package static func translate(_ error: any Error, url: PostgresURL, operation: String) -> AuditLogError {
        if let error = error as? AuditLogError { return error }
        if let error = error as? PSQLError {
            // No server message: the connection failed or was closed, so the server may never
            // have seen the statement, or may have committed it. Unavailable, not broken.
            let code: AuditLogError.Code = error.serverInfo == nil ? .databaseUnavailable : .storageFailure
            return AuditLogError(code, "\(url): \(operation): \(Self.cause(of: error))")
        }
        if let error = error as? PostgresDecodingError {
            return AuditLogError(
                .storageFailure,
                "\(url): \(operation): column \(error.columnName) holds \(error.postgresType), not the expected type"
            )
        }
        return AuditLogError(.storageFailure, "\(url): \(operation): \(error)")
    }

    package static func cause(of error: PSQLError) -> String {
        if let server = error.serverInfo, let message = server[.message] {
            return "\(message) (SQLSTATE \(server[.sqlState] ?? "?"))"
        }
        if let underlying = error.underlying { return Self.describe(underlying) }
        switch error.code {
        case .serverClosedConnection, .clientClosedConnection, .uncleanShutdown:
            return "the connection to the server was closed"
        default:
            return "\(error.code)"
        }
    }
}

extension PostgresSession {
    /// A connection failure in a person's words ("Connection refused", "timed out after 10 s"),
    /// not NIO's nested structure.
    package static func describe(_ error: any Error) -> String {
        switch error {
        case let error as NIOConnectionError:
            if let first = error.connectionErrors.first { return self.describe(first.error) }
            if let dns = error.dnsAError ?? error.dnsAAAAError { return "cannot resolve the host: \(dns)" }
            return "\(error)"
        case let error as IOError:
            return String(cString: strerror(error.errnoCode))
        case ChannelError.connectTimeout(let timeout):
            return "no answer within \(timeout.nanoseconds / 1_000_000_000) s"
        default:
            return "\(error)"
        }
    }

    /// `bytes` as a PostgreSQL `bytea` (PostgresNIO encodes `[UInt8]` as `char[]`).
    package static func bytea(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }
}

/// Set by a statement's timer when it closed the connection, so the failure says why.
private final class ExpiryFlag: Sendable {
    let value = Atomic<Bool>(false)
}
