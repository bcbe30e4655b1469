import Foundation
import MedTunnelTestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The witness as its own process against a running gateway over HTTP: it reads the gateway's
/// checkpoint and consistency proofs, posts its cosignature, and the gateway serves it in the
/// checkpoint, so `audit verify --witness-key` passes.
@Suite("witness against a running gateway, as processes", .offThePool)
struct WitnessGatewayProcessTests {
    @Test("the witness follows the gateway's /v1/audit routes, its cosignature is served, and audit verify requires it")
    func witnessFollowsGateway() async throws {
        let api = GatewayAPIProcessTests()
        let (tmp, pki) = try api.setUp(pumps: [])
        let keygen = try ProcessHarness.medtunnel(["witness", "keygen", "--key", tmp.sub("witness.key")])
        #expect(keygen.status == 0, "\(keygen.stderr)")
        let witnessKey = keygen.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let gateway = try api.startGateway(
            tmp,
            pki: pki,
            extra: ["--witness-key", witnessKey, "--checkpoint-interval", "200ms", "--access-log-interval", "1"]
        )
        defer { _ = api.terminate(gateway) }
        // The log's key, as an operator hands it to the witness.
        let shown = try ProcessHarness.medtunnel([
            "audit", "checkpoint", "--state-dir", tmp.sub("state"), "--show-verifier-key",
        ])
        let logKey = try #require(
            shown.stdout.split(separator: "\n").first { $0.hasPrefix("verifier key: ") }?
                .dropFirst("verifier key: ".count)
        )
        try String(logKey).write(toFile: tmp.sub("log.vkey"), atomically: true, encoding: .utf8)

        let before = try ProcessHarness.medtunnel([
            "audit", "verify", "--state-dir", tmp.sub("state"), "--witness-key", witnessKey,
        ])
        #expect(before.status == 4, "\(before.stdout)\(before.stderr)")

        func witnessOnce() throws -> ProcessHarness.Result {
            try ProcessHarness.medtunnel(
                [
                    "witness", "--log", gateway.api.absoluteString, "--log-key", tmp.sub("log.vkey"), "--key",
                    tmp.sub("witness.key"), "--state", tmp.sub("witness.json"), "--once",
                ],
                environment: ["MEDTUNNEL_TOKEN": gateway.token]
            )
        }
        let first = try witnessOnce()
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        // More entries (a token issued is audited), a newer checkpoint, and the witness checks
        // the consistency proof from what it cosigned before.
        _ = try ProcessHarness.medtunnel(["token", "issue", "--state-dir", tmp.sub("state"), "--user", "olga"])
        try await Task.sleep(for: .milliseconds(600))
        let second = try witnessOnce()
        #expect(second.status == 0, "\(second.stdout)\(second.stderr)")

        var request = URLRequest(url: gateway.api.appendingPathComponent("v1/audit/checkpoint"))
        request.setValue("Bearer \(gateway.token)", forHTTPHeaderField: "Authorization")
        let (data, _) = try await URLSession.shared.data(for: request)
        let note = String(decoding: data, as: UTF8.self)
        let witnessName = String(witnessKey.split(separator: "+").first ?? "")
        #expect(note.contains("— \(witnessName) "), "the served checkpoint carries the cosignature:\n\(note)")

        // The witness's own reads add nothing to the log (tree heads are not patient data): past
        // the access log's interval and a checkpoint tick, its cosignature is still on the latest.
        try await Task.sleep(for: .milliseconds(1_500))
        let after = try ProcessHarness.medtunnel([
            "audit", "verify", "--state-dir", tmp.sub("state"), "--witness-key", witnessKey,
        ])
        #expect(after.status == 0, "\(after.stdout)\(after.stderr)")
    }
}
