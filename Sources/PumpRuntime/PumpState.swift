public import TherapyModel
public import TunnelProtocol

/// Everything a pump must remember across a power loss to honour commands exactly once.
public struct PumpState: Sendable, Hashable {
    public enum Lockout: Sendable, Hashable {
        case none
        /// Remote changes are refused; `suspendsDelivery` also stops insulin delivery.
        case active(suspendsDelivery: Bool)
    }

    public var settings: TherapySettings
    public var lockout: Lockout
    /// Suspended by a suspend command (until a resume command).
    public var suspendedByCommand: Bool
    /// The highest sequence the pump has consumed: applied, or refused after its signature
    /// and serial checked out. Nothing at or below it is ever acted on again.
    public var highWaterSequence: UInt64
    /// The highest sequence that was applied (what the hello reports).
    public var lastAppliedSequence: UInt64

    public init(
        settings: TherapySettings,
        lockout: Lockout = .none,
        suspendedByCommand: Bool = false,
        highWaterSequence: UInt64 = 0,
        lastAppliedSequence: UInt64 = 0
    ) {
        self.settings = settings
        self.lockout = lockout
        self.suspendedByCommand = suspendedByCommand
        self.highWaterSequence = highWaterSequence
        self.lastAppliedSequence = lastAppliedSequence
    }

    public var isLockedOut: Bool { self.lockout != .none }

    /// The mode an acknowledgement reports.
    public var mode: PumpMode {
        var mode: PumpMode = []
        if self.isLockedOut { mode.insert(.lockedOut) }
        if self.suspendedByCommand || self.lockout == .active(suspendsDelivery: true) { mode.insert(.suspended) }
        return mode
    }

    /// The state after applying `command` (sequences are the caller's business).
    func applying(_ command: PumpCommand) -> PumpState {
        var next = self
        switch command {
        case .change(let change):
            next.settings = self.settings.applying(change)
            if change == .suspend { next.suspendedByCommand = true }
            if change == .resume { next.suspendedByCommand = false }
        case .lockoutStart(let suspendDelivery):
            next.lockout = .active(suspendsDelivery: suspendDelivery)
        case .lockoutLift:
            next.lockout = .none
        }
        return next
    }
}
