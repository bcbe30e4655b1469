import AuditLog
import AuditWitness
import Crypto
import Foundation
import Hummingbird
import HummingbirdTesting
import OperatorAPI
import Testing

/// `POST /v1/audit/cosignatures`: the gateway keeps a trusted witness's cosignature on a checkpoint
/// its log signed, and nothing else.
@Suite("POST /v1/audit/cosignatures")
struct CosignatureRoutesTests {
    @Test("stores a trusted witness's cosignature on a signed checkpoint; refuses strangers, forgeries and other trees")
    func route() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cosign-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let signer = try CheckpointSigner.generate(name: "medtunnel.local/audit")
        let signed = try signer.sign(
            Checkpoint(origin: "medtunnel.local/audit", size: 3, rootHash: Array(repeating: 9, count: 32))
        )
        let witness = try Cosigner(name: "witness.example/w1", privateKey: Curve25519.Signing.PrivateKey())
        let stranger = try Cosigner(name: "witness.example/w1", privateKey: Curve25519.Signing.PrivateKey())
        let store = CosignatureStore(stateDirectory: directory)
        let routes = CosignatureRoutes(store: store, witnesses: [witness.verifier]) { size in
            size == 3 ? signed.note : nil
        }
        let router = Router()
        routes.register(on: router)
        let app = Application(router: router)
        let body = signed.checkpoint.body
        let line = try witness.cosign(body: body, timestamp: 1_800_000_000)

        func post(_ checkpoint: String, _ cosignature: String) async throws -> (Int, String) {
            let json = try JSONSerialization.data(withJSONObject: [
                "checkpoint": checkpoint, "cosignature": cosignature,
            ])
            return try await app.test(.router) { client in
                try await client.execute(
                    uri: "/v1/audit/cosignatures",
                    method: .post,
                    headers: [.contentType: "application/json"],
                    body: ByteBuffer(bytes: json)
                ) { response in
                    (Int(response.status.code), String(buffer: response.body))
                }
            }
        }

        let stored = try await post(body, line)
        #expect(stored.0 == 201, "\(stored.1)")
        #expect(try store.entries().map(\.line) == [line])
        #expect(try store.cosignedNote(signed.note, body: body) == signed.note + line + "\n")

        let unknown = try await post(body, try stranger.cosign(body: body, timestamp: 1_800_000_000))
        #expect(unknown.0 == 403 && unknown.1.contains("\"unknown_witness\""), "\(unknown.1)")

        let other = body.replacingOccurrences(of: "\n3\n", with: "\n4\n")
        let forged = try await post(other, line)
        #expect(forged.0 == 400 && forged.1.contains("\"invalid_cosignature\""), "\(forged.1)")

        let elsewhere = try await post(other, try witness.cosign(body: other, timestamp: 1_800_000_001))
        #expect(elsewhere.0 == 409 && elsewhere.1.contains("\"unknown_checkpoint\""), "\(elsewhere.1)")
        #expect(try store.entries().count == 1)
    }
}

/// The witness's HTTP client against a live stub of the audit routes it expects (the shape the
/// lead wires `GET /v1/audit/checkpoint` and `GET /v1/audit/consistency` to), with the real
/// cosignature route: a growing log is cosigned over HTTP and the cosignature comes back in the note.
@Suite("the witness over HTTP")
struct WitnessOverHTTPTests {
    @Test("polls checkpoint and consistency over HTTP, POSTs its cosignature, which the checkpoint note then carries")
    func witnessOverHTTP() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "witness-http-\(UUID().uuidString)"
        ).path
        let state = "\(directory)/state"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let log = try await AuditLog.open(stateDirectory: state)
        let actor = try AuditActor(id: "ops", role: "operator")
        @Sendable func grow(_ count: Int) async throws {
            for _ in 0..<count {
                _ = try await log.append(
                    try AuditEvent(
                        timeMilliseconds: 1_800_000_000_000,
                        actor: actor,
                        kind: .configChanged,
                        payload: Array("{}".utf8)
                    )
                )
            }
            _ = try await log.checkpoint()
        }
        try await grow(3)
        let cosigner = try Cosigner.generate(name: "witness.example/w1", path: "\(directory)/witness.key")
        let store = CosignatureStore(stateDirectory: state)
        let router = Router()
        CosignatureRoutes(store: store, witnesses: [cosigner.verifier]) { size in
            try await log.store.checkpoints().first { $0.size == size }?.note
        }.register(on: router)
        router.get("/v1/audit/checkpoint") { _, _ in
            guard let latest = try await log.store.latestCheckpoint() else { throw HTTPError(.notFound) }
            let checkpoint = try log.signer.verifier.verifyCheckpoint(note: latest.note, context: "served")
            return try store.cosignedNote(latest.note, body: checkpoint.body)
        }
        router.get("/v1/audit/consistency") { request, _ in
            let from = UInt64(request.uri.queryParameters["from"] ?? "") ?? 0
            let to = UInt64(request.uri.queryParameters["to"] ?? "") ?? 0
            let proof = try await log.consistencyProof(from: from, to: to)
            let hex = proof.hashes.map { $0.map { String(format: "%02x", $0) }.joined() }
            let body = try JSONSerialization.data(withJSONObject: ["from": from, "to": to, "proof": hex])
            return Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: body))
            )
        }
        let app = Application(router: router)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let witness = LogWitness(
                origin: "medtunnel.local/audit",
                logKey: log.signer.verifier,
                cosigner: cosigner,
                statePath: "\(directory)/witness.json",
                client: .http(base: URL(string: "http://127.0.0.1:\(port)")!, token: nil)
            )
            for (size, now) in [(3, UInt64(1_800_000_000)), (8, 1_800_000_010)] {
                if size > 3 { try await grow(size - 3) }
                let outcome = await witness.poll(now: now)
                guard case .cosigned(let checkpoint, let line) = outcome else {
                    Issue.record("size \(size): \(outcome)")
                    return
                }
                #expect(checkpoint.size == UInt64(size))
                let served = try await client.execute(uri: "/v1/audit/checkpoint", method: .get) {
                    String(buffer: $0.body)
                }
                #expect(served.hasSuffix(line + "\n"), "\(served)")
            }
        }
    }
}
