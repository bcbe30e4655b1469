import Foundation

/// A lockout's id: `lck_` and 16 lowercase hex digits.
public struct LockoutID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: String

    /// nil unless `text` has the form of an id.
    public init?(_ text: String) {
        let hex = text.utf8.dropFirst(4)
        guard text.hasPrefix("lck_"), hex.count == 16,
            hex.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else { return nil }
        self.rawValue = text
    }

    public static func random() -> LockoutID {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = String(value, radix: 16)
        return LockoutID("lck_" + String(repeating: "0", count: 16 - hex.count) + hex)!
    }

    public var description: String { rawValue }
    public static func < (lhs: LockoutID, rhs: LockoutID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// One person's step on a lockout: who, when, and the audit entry that records it.
public struct LockoutStep: Sendable, Hashable {
    public let actorID: String
    public let actorRole: String
    public let atMilliseconds: Int64
    public let auditIndex: UInt64
}

/// An emergency lockout: a standing order over a scope, from its start until two different
/// incident staff lift it (one asks, another confirms).
///
/// ```
///  start ──> active ──(lift by A)──> lift_requested ──(confirm by B ≠ A)──> lifted
/// ```
public struct Lockout: Sendable, Hashable {
    public let id: LockoutID
    public let scope: LockoutScope
    public let reason: String
    /// The pumps also stop insulin delivery (false: the basal program keeps running).
    public let suspendDelivery: Bool
    public let started: LockoutStep
    public internal(set) var liftRequested: LockoutStep?
    public internal(set) var lifted: LockoutStep?

    /// In force until lifted (a requested lift does not end it).
    public var isActive: Bool { lifted == nil }

    /// `active`, `lift_requested` or `lifted`.
    public var stateName: String {
        if lifted != nil { return "lifted" }
        return liftRequested == nil ? "active" : "lift_requested"
    }

    public static let maximumReasonLength = 1_000
}

/// What the gateway's lockouts ask of one pump now.
public enum LockoutOrder: Sendable, Hashable {
    /// No lockout covers the pump: it should not be locked out.
    case unlocked
    /// `lockouts` (active, in start order) cover the pump; it is locked out, and stops insulin
    /// delivery if any of them says so.
    case locked(suspendDelivery: Bool, lockouts: [LockoutID])

    public var isLocked: Bool {
        if case .locked = self { return true }
        return false
    }

    /// The order of the active `lockouts` for the pump with `attributes`.
    public static func of(_ lockouts: [Lockout], for attributes: PumpAttributes) -> LockoutOrder {
        let covering = lockouts.filter { $0.isActive && $0.scope.covers(attributes) }
        guard !covering.isEmpty else { return .unlocked }
        return .locked(suspendDelivery: covering.contains(where: \.suspendDelivery), lockouts: covering.map(\.id))
    }
}
