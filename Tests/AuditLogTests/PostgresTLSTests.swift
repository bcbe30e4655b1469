import AuditLog
import AuditPostgres
import Foundation
import MedTunnelTestSupport
import Testing

/// TLS to the database: a real PostgreSQL 15 that takes TLS connections only, with a throwaway
/// CA (`tools/postgres-test-server start --tls`).
@Suite("PostgreSQL audit store over TLS (sslmode=verify-full)")
struct PostgresTLSTests {
    @Test("verify-full with the server's CA: the log opens, appends and reads back, over TLS")
    func verified() async throws {
        let server = try await PostgresTestServer.tlsServer()
        let url = server.url()
        let store = try await PostgresAuditStore(url: url)
        let log = try await AuditLog(
            store: store,
            signer: try CheckpointSigner.generate(name: TestSupport.origin),
            configuration: .init(origin: TestSupport.origin)
        )
        let receipt = try await log.append(TestSupport.event(1))
        #expect(try await store.entries(in: receipt.index..<(receipt.index + 1)).count == 1)
        #expect(try PostgresURL(url).description.hasSuffix("?sslmode=verify-full"))
        await store.close()
    }

    @Test("a CA that did not sign the server's certificate is refused, naming TLS and sslrootcert")
    func wrongCA() async throws {
        let server = try await PostgresTestServer.tlsServer()
        let error = await #expect(throws: AuditLogError(.storageFailure, "")) {
            try await PostgresAuditStore(url: server.url(rootCertificates: server.otherCAPath))
        }
        #expect(
            error?.reason.contains("TLS to PostgreSQL at localhost:\(server.port)") == true,
            "\(String(describing: error))"
        )
        #expect(error?.reason.contains("sslrootcert") == true)
    }

    @Test("a host the certificate does not name (127.0.0.1, the certificate says localhost) is refused")
    func wrongName() async throws {
        let server = try await PostgresTestServer.tlsServer()
        let error = await #expect(throws: AuditLogError(.storageFailure, "")) {
            try await PostgresAuditStore(url: server.url(host: "127.0.0.1"))
        }
        #expect(
            error?.reason.contains("TLS to PostgreSQL at 127.0.0.1:\(server.port)") == true,
            "\(String(describing: error))"
        )
    }

    @Test("plain TCP to a server that requires TLS is refused by the server, naming the missing encryption")
    func plainRefused() async throws {
        let server = try await PostgresTestServer.tlsServer()
        let error = await #expect(throws: AuditLogError(.storageFailure, "")) {
            try await PostgresAuditStore(url: "postgres://medtunnel@127.0.0.1:\(server.port)/postgres")
        }
        #expect(error?.reason.contains("no encryption") == true, "\(String(describing: error))")
    }

    @Test("verify-full against a server without TLS is refused, not downgraded")
    func noTLSOnServer() async throws {
        let plain = try PostgresTestServer.url()
        let port = try #require(URL(string: plain)?.port)
        let server = try await PostgresTestServer.tlsServer()
        let error = await #expect(throws: AuditLogError(.storageFailure, "")) {
            try await PostgresAuditStore(
                url: "postgres://medtunnel@localhost:\(port)/postgres?sslmode=verify-full&sslrootcert=\(server.caPath)"
            )
        }
        #expect(error?.reason.contains("does not offer TLS") == true, "\(String(describing: error))")
    }

    @Test(
        "sslmode values that do not verify who answers are refused at parse time, naming verify-full; sslrootcert must come with it",
        arguments: [
            ("postgres://m@db/x?sslmode=require", "sslmode=require is not supported"),
            ("postgres://m@db/x?sslmode=prefer", "sslmode=prefer is not supported"),
            ("postgres://m@db/x?sslmode=verify-ca&sslrootcert=/ca.pem", "sslmode=verify-ca is not supported"),
            ("postgres://m@db/x?sslmode=verify-full", "needs sslrootcert=FILE"),
            ("postgres://m@db/x?sslrootcert=/ca.pem", "without sslmode=verify-full"),
            ("postgres://m@db/x?sslmode=verify-full&sslrootcert=ca.pem", "must be an absolute path"),
            ("postgres://m@db/x?connect_timeout=3", "option connect_timeout is not supported"),
        ]
    )
    func refusedModes(url: String, message: String) throws {
        let error = #expect(throws: AuditLogError(.invalidArgument, "")) { try PostgresURL(url) }
        #expect(error?.reason.contains(message) == true, "\(String(describing: error))")
    }

    @Test("an sslrootcert that is missing is named before any connection is tried")
    func missingRoots() async throws {
        let error = await #expect(throws: AuditLogError(.invalidArgument, "")) {
            try await PostgresAuditStore(
                url: "postgres://m@localhost:1/x?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"
            )
        }
        #expect(error?.reason.contains("sslrootcert /nonexistent/ca.pem") == true, "\(String(describing: error))")
    }
}
