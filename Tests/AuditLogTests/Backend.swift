import AuditLog
import AuditPostgres
import Foundation
import MedTunnelTestSupport
import Testing

/// The stores the store-level suites run against: `@Test(arguments: Backend.allCases)`.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    var testDescription: String { self.rawValue }

    /// A fresh, empty log location on this backend.
    func makeDatabase() throws -> TestDatabase {
        let state = "\(TestSupport.temporaryDirectory())/state"
        switch self {
        case .sqlite: return TestDatabase(backend: self, stateDirectory: state, postgresURL: nil)
        case .postgres:
            return TestDatabase(backend: self, stateDirectory: state, postgresURL: try PostgresTestServer.newDatabase())
        }
    }
}

/// Where one test's log lives: a state directory for the checkpoint key on both backends (and
/// the SQLite database on `.sqlite`), or a PostgreSQL database of the test's own.
struct TestDatabase: Sendable {
    let backend: Backend
    let stateDirectory: String
    let postgresURL: String?

    var sqlitePath: String { AuditStateDirectory(path: self.stateDirectory).databasePath }

    /// The checkpoint signing key (made on first use), shared by every log opened here.
    func signer(origin: String = TestSupport.origin) throws -> CheckpointSigner {
        try AuditStateDirectory(path: self.stateDirectory).signer(name: origin, create: true)
    }

    /// A store of its own (its own SQLite connection or PostgreSQL connection), as another
    /// process has; created (migrated) on first use.
    func openStore() async throws -> any AuditStore {
        switch self.backend {
        case .sqlite:
            try AuditStateDirectory(path: self.stateDirectory).create()
            return try AuditStateDirectory(path: self.stateDirectory).openSQLiteStore(create: true)
        case .postgres:
            return try await PostgresAuditStore(url: try #require(self.postgresURL))
        }
    }

    /// A log over a store of its own.
    func openLog(configuration: AuditLog.Configuration = .init(origin: TestSupport.origin)) async throws -> AuditLog {
        try await AuditLog(
            store: try await self.openStore(),
            signer: try self.signer(origin: configuration.origin),
            configuration: configuration
        )
    }

    /// Runs SQL on the database directly (sqlite3 or psql), as an operator with database access.
    func sql(_ statements: String) throws {
        switch self.backend {
        case .sqlite: try TestSupport.sqlite(self.sqlitePath, statements)
        case .postgres: try PostgresTestServer.sql(try #require(self.postgresURL), statements)
        }
    }

    /// A literal of `bytes` in this database's SQL.
    func blob(_ bytes: [UInt8]) -> String {
        switch self.backend {
        case .sqlite: return "X'\(TestSupport.hex(bytes))'"
        case .postgres: return "'\\x\(TestSupport.hex(bytes))'::bytea"
        }
    }

    /// `medtunnel audit verify`'s options for this log: the state directory, or the database URL
    /// with the verifier key (a database holds no key).
    func verifyArguments() throws -> [String] {
        switch self.backend {
        case .sqlite: return ["--state-dir", self.stateDirectory]
        case .postgres:
            return [
                "--database", try #require(self.postgresURL), "--verifier-key", try self.signer().verifier.verifierKey,
            ]
        }
    }
}
