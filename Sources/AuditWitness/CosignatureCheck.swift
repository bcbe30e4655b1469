public import AuditLog
import Foundation

/// A verifier's question: has this witness cosigned this checkpoint, recently enough?
///
/// Freshness is the point of a timestamped cosignature: a log that shows a fork to some readers
/// can replay an old cosignature on an old tree, but cannot make the witness sign a recent time
/// on a tree the witness never saw.
public enum CosignatureCheck {
    /// How far in the future a cosignature's time may be (clock skew between hosts).
    public static let allowedSkewSeconds: UInt64 = 300

    /// Checks `lines` (note signature lines: those of the checkpoint's note and the stored ones)
    /// for a valid cosignature over `checkpoint` by `witness`, at most `maxAgeSeconds` old at `now`.
    /// Returns the newest valid cosignature's timestamp.
    public static func check(
        _ checkpoint: SignedCheckpoint,
        lines: [String],
        witness: CosignatureVerifier,
        now: UInt64,
        maxAgeSeconds: UInt64
    ) throws -> UInt64 {
        let body = checkpoint.checkpoint.body
        let context = "checkpoint \(checkpoint.checkpoint.size)"
        guard let newest = try witness.newestTimestamp(lines: lines, body: body) else {
            throw WitnessError(
                .noCosignature,
                "\(context): no cosignature by witness \(witness.name) (key ID \(hexString(witness.keyID))); is the witness running and reaching the gateway?"
            )
        }
        if newest > now + self.allowedSkewSeconds {
            throw WitnessError(
                .staleCosignature,
                "\(context): cosigned by \(witness.name) \(newest - now) s in the future; check the clocks"
            )
        }
        if now > newest, now - newest > maxAgeSeconds {
            throw WitnessError(
                .staleCosignature,
                "\(context): the newest cosignature by \(witness.name) is \(now - newest) s old (at most \(maxAgeSeconds) s allowed); is the witness still running?"
            )
        }
        return newest
    }

    /// The signature lines of a signed note (after its blank line).
    public static func signatureLines(of note: String) -> [String] {
        guard let split = note.range(of: "\n\n", options: .backwards) else { return [] }
        return note[split.upperBound...].split(separator: "\n").map(String.init)
    }
}
