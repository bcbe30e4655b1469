import AnomalyRules
import AuditLog
import AuditPostgres
import Foundation
import MedTunnelTestSupport
import StoresPostgres
import Testing

@testable import SecurityEvents

/// Where the store suites run (`StoreBackend`).
typealias EventBackend = StoreBackend

/// A real audit log and security event store: a state directory on disk (SQLite), or a
/// PostgreSQL database of the test's own with the checkpoint key in a state directory.
struct EventFixture {
    let backend: EventBackend
    let directory: String
    let postgresURL: String?
    let audit: AuditLog
    let store: SecurityEventStore
    /// Between this node (its log and store) and the database, when made `proxied`.
    var proxy: TCPCutProxy? = nil

    static let now: Int64 = 1_763_700_000_000
    static let ines = try! AuditActor(id: "ines", role: "incident")
    static let olga = try! AuditActor(id: "olga", role: "operator")

    /// A rejection's code: `SecurityEventError` equality is on the code alone.
    static func error(_ code: SecurityEventError.Code) -> SecurityEventError { SecurityEventError(code, "") }

    static func make(_ backend: EventBackend = .sqlite) async throws -> EventFixture {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("events-\(UUID().uuidString)").path
        return try await open(
            backend,
            directory: directory,
            postgresURL: backend == .postgres ? try PostgresTestServer.newDatabase() : nil
        )
    }

    /// A node on PostgreSQL whose log and store reach the database through a proxy the test can
    /// cut (`proxy`); `reopened()` gives another node that reaches it straight.
    static func proxied() async throws -> EventFixture {
        let url = try await PostgresTestServer.newDatabase()
        let port = try #require(URL(string: url)?.port)
        let proxy = try await TCPCutProxy.start(targetPort: port)
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("events-\(UUID().uuidString)").path
        let through = url.replacingOccurrences(of: ":\(port)/", with: ":\(proxy.port)/")
        let node = try await open(.postgres, directory: directory, postgresURL: through)
        var fixture = EventFixture(
            backend: .postgres,
            directory: directory,
            postgresURL: url,
            audit: node.audit,
            store: node.store
        )
        fixture.proxy = proxy
        return fixture
    }

    private static func open(
        _ backend: EventBackend,
        directory: String,
        postgresURL: String?
    ) async throws -> EventFixture {
        switch backend {
        case .sqlite:
            let audit = try await AuditLog.open(stateDirectory: directory)
            return EventFixture(
                backend: backend,
                directory: directory,
                postgresURL: nil,
                audit: audit,
                store: try SecurityEventStore(stateDirectory: directory, audit: audit)
            )
        case .postgres:
            let url = try #require(postgresURL)
            let state = AuditStateDirectory(path: directory)
            try state.create()
            let audit = try await AuditLog(
                store: try await PostgresAuditStore(url: url),
                signer: try state.signer(name: "medtunnel.local/audit", create: true)
            )
            return EventFixture(
                backend: backend,
                directory: directory,
                postgresURL: url,
                audit: audit,
                store: try await PostgresSharedDatabase.securityEventStore(url: url, audit: audit)
            )
        }
    }

    /// The same state directory (or database) opened again, as a restarted gateway would; on
    /// PostgreSQL also what a second gateway node on the same database opens (its own log object
    /// and connection).
    func reopened() async throws -> EventFixture {
        try await Self.open(backend, directory: directory, postgresURL: postgresURL)
    }

    /// Every entry of the log.
    func entries() async throws -> [AuditEntry] {
        try await audit.entries(in: 0..<(try await audit.storedSize()))
    }

    static func event(
        _ kind: String,
        at offset: Int64 = 0,
        pump: String? = nil,
        phone: String? = nil,
        reason: String? = nil
    ) -> ObservedEvent {
        ObservedEvent(
            timeMilliseconds: now + offset,
            kind: kind,
            reason: reason,
            pump: pump,
            phone: phone,
            source: phone == nil ? nil : "192.0.2.7",
            detail: "\(kind) seen"
        )
    }

    static func firing(_ rule: String = "tampered_records_per_phone", phone: String = "PHONE-9") -> RuleFiring {
        RuleFiring(
            rule: rule,
            action: .alert,
            subject: .phone,
            subjectValue: phone,
            count: 3,
            evidence: [event("relay_tunnel_failed", phone: phone, reason: "recordRejected")],
            timeMilliseconds: now,
            windowMilliseconds: 600_000
        )
    }
}
