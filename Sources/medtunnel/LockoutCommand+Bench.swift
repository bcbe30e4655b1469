import ArgumentParser
import CommandAuthority
import Foundation
import MedTunnelPKI
import TherapyModel
import TunnelProtocol

extension LockoutCommand {
    /// The bare cost of signing N lockout envelopes with the command key, for tools/bench/lockout's
    /// side-by-side reference (one JSON line).
    struct BenchSign: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench-sign",
            abstract: "(benchmark) Sign N lockoutStart envelopes with the PKI's command key.",
            shouldDisplay: false
        )

        @Option(help: "The gateway folder (PKI/gateway), whose command key signs.") var pki: String
        @Option var count: Int = 1000

        func run() throws {
            let signer = try CommandSigner.load(from: PKIDirectory(self.pki))
            let now = Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000))
            let start = ContinuousClock.now
            for index in 0..<self.count {
                let serial = "PUMP-" + String(index)
                _ = try signer.sign(
                    try CommandEnvelope(
                        serial: serial,
                        sequence: UInt64(index + 1),
                        issuedAt: now,
                        expiresAt: Timestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch + 86_400_000),
                        auditIndex: UInt64(index),
                        command: .lockoutStart(suspendDelivery: false)
                    )
                )
            }
            let (seconds, attoseconds) = (ContinuousClock.now - start).components
            let elapsed = Double(seconds) + Double(attoseconds) / 1e18
            Console.out(
                try Console.json([
                    "bench": "sign", "signatures": self.count, "seconds": elapsed,
                    "perSecond": Double(self.count) / elapsed,
                ])
            )
        }
    }
}
