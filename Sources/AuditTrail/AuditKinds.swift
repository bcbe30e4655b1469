public import AuditLog
import Lockouts
import SecurityEvents

/// Every kind an entry of this gateway's log can have, gathered from the modules that declare
/// them, so that a filter can refuse a misspelt kind instead of silently matching nothing.
public enum AuditKinds {
    /// The entry kinds, sorted (the console's sign-in kinds are in `AuditKind.known`).
    public static let entryKinds: [AuditKind] = {
        let declared: [AuditKind] =
            AuditKind.known + [
                .pkiRevoked, .pkiUnrevoked, .pumpPaired, .pumpUnpairRequested, .pumpTransferRequested,
                .pumpUnpaired, .pumpTransferred, .lockoutLiftRequested, .lockoutSent, .lockoutAcknowledged,
                .alertRaised, .alertAcknowledged,
            ]
        return Array(Set(declared)).sorted { $0.rawValue < $1.rawValue }
    }()

    /// The kinds of security events (`handshake_failed`, ...), written as `security.event`
    /// entries with the kind in the payload's `event` field.
    public static let securityEventKinds: [String] = SecurityEventKinds.known.sorted()

    /// Every name a kind filter accepts, for error messages: entry kinds, then security events.
    public static var allNames: [String] { self.entryKinds.map(\.rawValue) + self.securityEventKinds }
}
