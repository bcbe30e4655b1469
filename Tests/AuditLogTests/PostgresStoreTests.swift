import AuditLog
import AuditPostgres
import Foundation
import MedTunnelTestSupport
import Testing

/// What only the PostgreSQL store has: a URL, migrations, a server that may be elsewhere.
@Suite("PostgreSQL audit store: URL, migrations, refusals", .offThePool)
struct PostgresStoreTests {
    @Test("a database migrated by a newer binary is refused naming its version, and left as it is")
    func newerSchemaRefused() async throws {
        let url = try await PostgresTestServer.newDatabase()
        let store = try await PostgresAuditStore(url: url)
        await store.close()
        try await PostgresTestServer.sql(
            url,
            "INSERT INTO schema_migrations(version, summary) VALUES (99, 'from the future')"
        )

        let error = await #expect(throws: AuditLogError(.storageFailure, "")) {
            try await PostgresAuditStore(url: url)
        }
        let reason = try #require(error?.reason)
        #expect(
            reason.contains("version 99, newer than this binary knows (\(PostgresAuditStore.schemaVersion))"),
            "\(reason)"
        )
        #expect(reason.contains(try PostgresURL(url).description))
        // Nothing was changed: the row is still there, and status reports the version.
        let status = try await PostgresAuditStore.status(url: url)
        #expect(status.databaseVersion == 99 && status.binaryVersion == PostgresAuditStore.schemaVersion)
        #expect(status.entries == nil)
        await #expect(throws: AuditLogError(.storageFailure, "")) { try await PostgresAuditStore.migrate(url: url) }
    }

    @Test("an unreachable server is refused naming host:port, never the password")
    func unreachable() async throws {
        let port = PostgresTestServer.closedPort()
        let url = "postgres://medtunnel:s3cret-Pa55@127.0.0.1:\(port)/audit"
        let error = await #expect(throws: AuditLogError(.storageFailure, "")) {
            try await PostgresAuditStore(url: url)
        }
        let reason = try #require(error?.reason)
        #expect(reason.contains("cannot reach PostgreSQL at 127.0.0.1:\(port)"), "\(reason)")
        #expect(reason.contains("Connection refused"), "\(reason)")
        #expect(reason.contains("postgres://medtunnel@127.0.0.1:\(port)/audit"), "\(reason)")
        #expect(!reason.contains("s3cret"), "\(reason)")
    }

    @Test("a malformed URL is refused with its password masked")
    func badURL() throws {
        #expect(throws: AuditLogError(.invalidArgument, "")) { try PostgresURL("mysql://u:pw@h/db") }
        do {
            _ = try PostgresURL("postgres://u:hunter2@/db")
            Issue.record("a URL without a host was accepted")
        } catch let error as AuditLogError {
            #expect(error.reason.contains("no host") && !error.reason.contains("hunter2"), "\(error.reason)")
        }
        let url = try PostgresURL("postgresql://ops:pw@db.example:6543/medtunnel?sslmode=disable")
        #expect(url.description == "postgres://ops@db.example:6543/medtunnel" && url.endpoint == "db.example:6543")
    }

    @Test("migrations: applied once at open, by two nodes at once too; a store that must not migrate says what to run")
    func migrations() async throws {
        let url = try await PostgresTestServer.newDatabase()
        let unmigrated = await #expect(throws: AuditLogError(.storageFailure, "")) {
            try await PostgresAuditStore(url: url, migrate: false)
        }
        #expect(unmigrated?.reason.contains("run medtunnel db migrate") == true, "\(String(describing: unmigrated))")
        #expect(try await PostgresAuditStore.status(url: url).databaseVersion == 0)

        // Two nodes starting together: the advisory lock lets one migrate, the other finds it done.
        async let first = PostgresAuditStore(url: url)
        async let second = PostgresAuditStore(url: url)
        let stores = try await [first, second]
        for store in stores { await store.close() }
        let applied = try await PostgresTestServer.sql(url, "SELECT version FROM schema_migrations ORDER BY version")
        let latest = PostgresAuditStore.schemaVersion
        // Every migration this binary has, once each (their versions, not 1...latest: a version may
        // be reserved for a migration another branch adds).
        #expect(applied.split(separator: "\n") == PostgresAuditSchema.migrations.map { Substring("\($0.version)") })
        let again = try await PostgresAuditStore.migrate(url: url)
        #expect(again.from == latest && again.to == latest)
        let status = try await PostgresAuditStore.status(url: url)
        #expect(status.databaseVersion == latest && status.binaryVersion == latest)
        #expect(status.entries == 0 && status.checkpoints == 0)
    }

    @Test("medtunnel audit verify --database and db migrate|status, as an operator runs them")
    func commands() async throws {
        let url = try await PostgresTestServer.newDatabase()
        let secretURL = url.replacingOccurrences(of: "medtunnel@", with: "medtunnel:hunter2@")
        let migrated = try TestSupport.run(TestSupport.medtunnel, ["db", "migrate", "--database", secretURL])
        #expect(migrated.status == 0, "\(migrated.stderr)")
        #expect(
            migrated.stdout.contains("migrated")
                && migrated.stdout.contains("version 0 to \(PostgresAuditStore.schemaVersion)"),
            "\(migrated.stdout)"
        )
        #expect(!migrated.stdout.contains("hunter2") && !migrated.stderr.contains("hunter2"))

        let database = TestDatabase(
            backend: .postgres,
            stateDirectory: "\(TestSupport.temporaryDirectory())/state",
            postgresURL: url
        )
        do {
            let log = try await database.openLog(
                configuration: .init(origin: TestSupport.origin, checkpointInterval: 4)
            )
            for number in 0..<10 { _ = try await log.append(TestSupport.event(number)) }
        }
        let status = try TestSupport.run(TestSupport.medtunnel, ["db", "status", "--database", url])
        #expect(status.status == 0, "\(status.stderr)")
        let latest = PostgresAuditStore.schemaVersion
        #expect(status.stdout.contains("schema version: \(latest) (this binary: \(latest))"), "\(status.stdout)")
        #expect(status.stdout.contains("entries: 10"), "\(status.stdout)")

        let verified = try TestSupport.audit(["verify"] + (try database.verifyArguments()))
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(verified.stdout.contains("verified 10 entries, 2 checkpoints"), "\(verified.stdout)")

        // Exactly one of --state-dir and --database; a database holds no key, so --verifier-key.
        let both = try TestSupport.audit(["verify", "--database", url, "--state-dir", database.stateDirectory])
        #expect(both.status != 0 && both.stderr.contains("exactly one of --state-dir and --database"), "\(both.stderr)")
        let neither = try TestSupport.audit(["verify"])
        #expect(neither.status != 0 && neither.stderr.contains("exactly one of --state-dir and --database"))
        let keyless = try TestSupport.audit(["verify", "--database", url])
        #expect(keyless.status != 0 && keyless.stderr.contains("--verifier-key"), "\(keyless.stderr)")

        let port = PostgresTestServer.closedPort()
        let down = try TestSupport.run(
            TestSupport.medtunnel,
            ["db", "status", "--database", "postgres://medtunnel:hunter2@127.0.0.1:\(port)/x"]
        )
        #expect(
            down.status == 3 && down.stderr.hasPrefix("db: cannot reach PostgreSQL at 127.0.0.1:\(port)"),
            "\(down.stderr)"
        )
        #expect(!down.stderr.contains("hunter2"))
    }
}
