import AuditLog
import AuditWitness
import Crypto
import Foundation
import Testing

/// `cosignature/v1` lines, checked against the C2SP tlog-cosignature text rebuilt here from the
/// spec, independently of the code under test.
@Suite("Cosignatures (C2SP tlog-cosignature, Ed25519)")
struct CosignatureTests {
    let body = "medtunnel.local/audit\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"

    @Test("the line is key ID, big-endian timestamp and an Ed25519 signature over the spec's exact message")
    func independentCheck() throws {
        let key = Curve25519.Signing.PrivateKey()
        let cosigner = try Cosigner(name: "witness.example/w1", privateKey: key)
        let line = try cosigner.cosign(body: self.body, timestamp: 1_679_315_147)

        // From the spec: "— <name> base64(key ID || u64 timestamp || signature)".
        let fields = line.split(separator: " ")
        #expect(fields.count == 3 && fields[0] == "\u{2014}" && fields[1] == "witness.example/w1")
        let blob = try #require(Data(base64Encoded: String(fields[2])))
        #expect(blob.count == 4 + 8 + 64)
        // key ID = SHA-256(name || "\n" || 0x04 || public key)[:4]
        let idInput = Data("witness.example/w1\n".utf8) + Data([0x04]) + key.publicKey.rawRepresentation
        #expect(Array(blob.prefix(4)) == Array(SHA256.hash(data: idInput).prefix(4)))
        #expect(Array(blob[4..<12]) == [0, 0, 0, 0, 0x64, 0x18, 0x50, 0xCB])  // 1679315147
        let message = Data(
            "cosignature/v1\ntime 1679315147\nmedtunnel.local/audit\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
                .utf8
        )
        #expect(key.publicKey.isValidSignature(blob.suffix(64), for: message))

        // And the project's verifier, from the printed vkey, agrees.
        let verifier = try CosignatureVerifier(verifierKey: cosigner.verifier.verifierKey)
        #expect(try verifier.timestamp(ofLine: line, body: self.body) == 1_679_315_147)
        #expect(cosigner.verifier.verifierKey.hasPrefix("witness.example/w1+"))
        let encodedKey = String(cosigner.verifier.verifierKey.split(separator: "+", maxSplits: 2)[2])
        #expect(Data(base64Encoded: encodedKey) == Data([0x04]) + key.publicKey.rawRepresentation)
    }

    @Test("a cosignature over another body, or with its timestamp changed, does not verify")
    func tampered() throws {
        let cosigner = try Cosigner(name: "witness.example/w1", privateKey: Curve25519.Signing.PrivateKey())
        let line = try cosigner.cosign(body: self.body, timestamp: 1_700_000_000)
        let other = self.body.replacingOccurrences(of: "20852163", with: "20852164")
        #expect(throws: WitnessError(.invalidCosignature, "")) {
            try cosigner.verifier.timestamp(ofLine: line, body: other)
        }
        var blob = [UInt8](Data(base64Encoded: String(line.split(separator: " ")[2]))!)
        blob[11] ^= 1
        let retimed = "\u{2014} witness.example/w1 \(Data(blob).base64EncodedString())"
        #expect(throws: WitnessError(.invalidCosignature, "")) {
            try cosigner.verifier.timestamp(ofLine: retimed, body: self.body)
        }
        // A line by another witness is ignored, as the signed-note spec says.
        let stranger = try Cosigner(name: "witness.example/w2", privateKey: Curve25519.Signing.PrivateKey())
        #expect(
            try cosigner.verifier.timestamp(ofLine: try stranger.cosign(body: self.body, timestamp: 1), body: self.body)
                == nil
        )
    }

    @Test("a vkey with a wrong key ID or type is refused")
    func badVerifierKeys() throws {
        let key = try Cosigner(name: "w", privateKey: Curve25519.Signing.PrivateKey()).verifier.verifierKey
        let parts = key.split(separator: "+", maxSplits: 2).map(String.init)
        #expect(throws: WitnessError(.invalidKey, "")) {
            try CosignatureVerifier(verifierKey: "\(parts[0])+00000000+\(parts[2])")
        }
        let ecdsa = try CheckpointSigner.generate(name: "log").verifier.verifierKey
        #expect(throws: WitnessError(.invalidKey, "")) { try CosignatureVerifier(verifierKey: ecdsa) }
    }

    @Test("freshness: a cosignature older than the allowed age, or none, fails with its own code")
    func freshness() throws {
        let signer = try CheckpointSigner.generate(name: "medtunnel.local/audit")
        let checkpoint = try signer.sign(
            Checkpoint(origin: "medtunnel.local/audit", size: 1, rootHash: Array(repeating: 7, count: 32))
        )
        let cosigner = try Cosigner(name: "w", privateKey: Curve25519.Signing.PrivateKey())
        let line = try cosigner.cosign(body: checkpoint.checkpoint.body, timestamp: 10_000)
        let fresh = try CosignatureCheck.check(
            checkpoint,
            lines: [line],
            witness: cosigner.verifier,
            now: 10_000 + 3600,
            maxAgeSeconds: 3600
        )
        #expect(fresh == 10_000)
        #expect(throws: WitnessError(.staleCosignature, "")) {
            try CosignatureCheck.check(
                checkpoint,
                lines: [line],
                witness: cosigner.verifier,
                now: 10_000 + 3601,
                maxAgeSeconds: 3600
            )
        }
        #expect(throws: WitnessError(.noCosignature, "")) {
            try CosignatureCheck.check(
                checkpoint,
                lines: [],
                witness: cosigner.verifier,
                now: 10_000,
                maxAgeSeconds: 3600
            )
        }
    }
}
