/// What an audit entry records, as a stable dotted string (`"change.requested"`).
///
/// Kinds are strings on the wire, not enum ordinals, so later issues add kinds without a format
/// break and an old reader keeps and re-encodes a kind it does not know byte for byte.
/// Syntax: 1...64 characters from `a-z 0-9 . _ -`.
public struct AuditKind: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// Validates the syntax; an unknown but well-formed kind is accepted.
    public init(_ rawValue: String) throws {
        guard Self.isValid(rawValue) else {
            throw AuditLogError(
                .invalidEvent,
                "kind \"\(rawValue)\": must be 1...\(Self.maximumLength) characters from a-z 0-9 . _ -"
            )
        }
        self.rawValue = rawValue
    }

    /// A kind this module names (kinds of later issues are declared in `AuditKind+….swift`).
    init(known: String) { self.rawValue = known }

    public static let maximumLength = 64

    static func isValid(_ value: String) -> Bool {
        let utf8 = value.utf8
        guard (1...Self.maximumLength).contains(utf8.count) else { return false }
        return utf8.allSatisfy { byte in
            (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2e || byte == 0x5f
                || byte == 0x2d
        }
    }

    public var description: String { self.rawValue }

    // MARK: Kinds known today (issue 5); later issues add theirs in extensions.
    public static let changeRequested = AuditKind(known: "change.requested")
    public static let changeDecided = AuditKind(known: "change.decided")
    public static let changeApproved = AuditKind(known: "change.approved")
    public static let commandSent = AuditKind(known: "command.sent")
    public static let commandAcknowledged = AuditKind(known: "command.acknowledged")
    public static let commandExpired = AuditKind(known: "command.expired")
    public static let commandUncertain = AuditKind(known: "command.uncertain")
    public static let lockoutStarted = AuditKind(known: "lockout.started")
    public static let lockoutLifted = AuditKind(known: "lockout.lifted")
    public static let login = AuditKind(known: "auth.login")
    public static let export = AuditKind(known: "audit.export")
    public static let configChanged = AuditKind(known: "config.changed")
    public static let securityEvent = AuditKind(known: "security.event")

    // MARK: Kinds of issue 6 (accounts, change requests, per-pump therapy).
    /// A user account was created (`medtunnel user add`).
    public static let accountCreated = AuditKind(known: "account.created")
    /// A user account was disabled; its tokens stop working at once.
    public static let accountDisabled = AuditKind(known: "account.disabled")
    /// A change request was cancelled before delivery.
    public static let changeCancelled = AuditKind(known: "change.cancelled")
    /// A change held for approval was refused by a clinician.
    public static let changeRejected = AuditKind(known: "change.rejected")
    /// An uncertain command was settled from the pump's own report (applied or not).
    public static let commandReconciled = AuditKind(known: "command.reconciled")
    /// A clinician set a pump's prescription and pump model.
    public static let pumpTherapySet = AuditKind(known: "pump.therapy.set")
    /// An authenticated actor was refused an operation it is not authorized for (a 403).
    public static let accessDenied = AuditKind(known: "access.denied")

    /// A disabled account was enabled again.
    public static let accountEnabled = AuditKind(known: "account.enabled")
    /// Bearer tokens were revoked before their expiry: one (`jti`) or all of a user's.
    public static let tokenRevoked = AuditKind(known: "auth.token_revoked")
    /// People read patient data through the API (batched: one entry per reader per interval).
    public static let accessRead = AuditKind(known: "access.read")

    public static let known: [AuditKind] =
        [
            .changeRequested, .changeDecided, .changeApproved, .commandSent, .commandAcknowledged, .commandExpired,
            .commandUncertain, .lockoutStarted, .lockoutLifted, .login, .export, .configChanged, .securityEvent,
            .accountCreated, .accountDisabled, .changeCancelled, .changeRejected, .commandReconciled, .pumpTherapySet,
            .accessDenied, .accountEnabled, .tokenRevoked, .accessRead,
        ] + consoleKinds
}
