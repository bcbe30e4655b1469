import Foundation
import MedTunnelTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The operator API over HTTPS (`--api-tls-cert`, `--api-tls-key`) with the gateway's own OpenSSL
/// engine, read by curl, an independent TLS client; and every refusal to start, each naming its
/// flag and file.
@Suite("operator API over HTTPS, as processes", .offThePool)
struct APITLSProcessTests {
    /// A throwaway self-signed certificate for localhost and 127.0.0.1, made by the openssl CLI,
    /// and its key (mode 0600).
    static func certificate(in tmp: TemporaryDirectory, name: String = "api") throws -> (cert: String, key: String) {
        let cert = tmp.sub("\(name).crt")
        let key = tmp.sub("\(name).key")
        let made = try ProcessHarness.run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                "-out", cert, "-days", "2", "-subj", "/CN=localhost", "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
            ]
        )
        #expect(made.status == 0, "openssl: \(made.stderr)")
        chmod(key, 0o600)
        return (cert, key)
    }

    static func curl(_ arguments: [String]) throws -> ProcessHarness.Result {
        try ProcessHarness.run("/usr/bin/curl", ["-sS", "--max-time", "20"] + arguments, timeout: 30)
    }

    /// Body and status of an HTTPS GET trusting only `cert`.
    static func get(_ url: String, cert: String, token: String? = nil) throws -> (Int, String, String) {
        var arguments = ["-v", "--cacert", cert, "-w", "\n%{http_code}", url]
        if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
        let result = try self.curl(arguments)
        #expect(result.status == 0, "curl \(url): \(result.stderr)")
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"), result.stderr)
    }

    @Test(
        "on 0.0.0.0 with a certificate: https:// is printed; /healthz and an authenticated /v1/pumps answer over TLS with ALPN http/1.1; plain HTTP to the port gets no HTTP answer"
    )
    func https() async throws {
        let harness = GatewayAPIProcessTests()
        let (tmp, pki) = try harness.setUp(pumps: [])
        let (cert, key) = try Self.certificate(in: tmp)
        let gateway = try harness.startGateway(
            tmp,
            pki: pki,
            extra: ["--api-listen", "0.0.0.0:0", "--api-tls-cert", cert, "--api-tls-key", key]
        )
        defer { gateway.process.stop() }
        #expect(gateway.api.scheme == "https", "\(gateway.api)")
        let base = "https://127.0.0.1:\(gateway.api.port ?? 0)"

        let (health, healthBody, handshake) = try Self.get(base + "/healthz", cert: cert)
        #expect(health == 200, "\(healthBody)")
        #expect(healthBody.contains("\"status\":\"ok\""), "\(healthBody)")
        #expect(handshake.contains("http/1.1") && handshake.contains("ALPN"), "\(handshake)")

        let (pumps, pumpsBody, _) = try Self.get(base + "/v1/pumps", cert: cert, token: gateway.token)
        #expect(pumps == 200, "\(pumpsBody)")
        #expect(pumpsBody.contains("\"pumps\":[]"), "\(pumpsBody)")
        let (anonymous, anonymousBody, _) = try Self.get(base + "/v1/pumps", cert: cert)
        #expect(anonymous == 401, "\(anonymousBody)")

        // Without the certificate in its trust store, curl refuses the server: it is not a public CA's.
        let untrusted = try Self.curl(["https://127.0.0.1:\(gateway.api.port ?? 0)/healthz"])
        #expect(untrusted.status == 60, "\(untrusted.stderr)")  // CURLE_PEER_FAILED_VERIFICATION

        let plain = try Self.curl(["http://127.0.0.1:\(gateway.api.port ?? 0)/healthz"])
        #expect(plain.status != 0, "plain HTTP was answered: \(plain.stdout)")
        #expect(!plain.stdout.contains("status"), "\(plain.stdout)")
        // The gateway still serves TLS after the plain-HTTP attempt.
        #expect(try Self.get(base + "/healthz", cert: cert).0 == 200)
    }

    @Test(
        "refused at start, naming flag, file and fix: one TLS flag alone, a missing or non-PEM certificate, a key others can read, a key of another certificate, --api-allow-remote"
    )
    func refusals() throws {
        let tmp = try TemporaryDirectory()
        let pki = tmp.sub("pki")
        #expect(try ProcessHarness.medtunnel(["pki", "init", "--dir", pki]).status == 0)
        let (cert, key) = try Self.certificate(in: tmp)
        let (_, otherKey) = try Self.certificate(in: tmp, name: "other")
        func start(_ arguments: [String]) throws -> ProcessHarness.Result {
            try ProcessHarness.medtunnel(
                ["gateway", "--pump-listen", "127.0.0.1:0", "--pki", pki + "/gateway", "--state-dir", tmp.sub("state")]
                    + arguments
            )
        }
        func expectRefusal(_ arguments: [String], status: Int32, _ message: String) throws {
            let result = try start(arguments)
            #expect(result.status == status, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
            #expect(!result.stderr.contains("Usage:") || status == 64, "\(result.stderr)")
        }

        try expectRefusal(["--api-tls-cert", cert], status: 64, "--api-tls-cert needs --api-tls-key")
        try expectRefusal(["--api-tls-key", key], status: 64, "--api-tls-key needs --api-tls-cert")
        try expectRefusal(
            ["--api-allow-remote", "--api-listen", "0.0.0.0:0"],
            status: 64,
            "--api-allow-remote is gone: it sent bearer tokens across the network in plain HTTP"
        )
        let missing = tmp.sub("nope.crt")
        try expectRefusal(
            ["--api-tls-cert", missing, "--api-tls-key", key],
            status: 1,
            "--api-tls-cert \(missing): No such file or directory"
        )
        try expectRefusal(
            ["--api-tls-cert", key, "--api-tls-key", key],
            status: 1,
            "--api-tls-cert \(key) holds no PEM certificate"
        )
        try expectRefusal(
            ["--api-tls-cert", cert, "--api-tls-key", tmp.path],
            status: 1,
            "--api-tls-key \(tmp.path) is not a file"
        )
        try expectRefusal(
            ["--api-tls-cert", cert, "--api-tls-key", otherKey],
            status: 1,
            "--api-tls-key \(otherKey) is not the private key of the certificate in --api-tls-cert \(cert)"
        )
        chmod(key, 0o640)
        try expectRefusal(
            ["--api-tls-cert", cert, "--api-tls-key", key],
            status: 1,
            "--api-tls-key \(key) is readable by group or others (mode 640); chmod 600 it"
        )
        // None of these opened the state directory.
        #expect(!FileManager.default.fileExists(atPath: tmp.sub("state")))
    }
}
