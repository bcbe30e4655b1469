public import TherapyModel
import TunnelProtocol

/// How long a queued command stays deliverable, from the moment it is queued (accepted, or
/// approved). Past that it is expired and never sent; a sent command carries the same expiry in
/// its envelope, and the pump refuses it after that by its own clock.
///
/// The default is TunnelProtocol's `CommandLifetime` table (bolus, temporary basal, suspend and
/// resume 5 minutes; settings 24 hours; the reasons are there): one table for the queue and the
/// envelope, so a change queued at `t` always fits an envelope issued at or after `t`. Tests may
/// pass shorter lifetimes; never longer ones, or the envelope cannot carry the queue's expiry.
public struct CommandLifetimes: Sendable {
    public var milliseconds: @Sendable (ControlKind) -> Int64

    public init(milliseconds: @escaping @Sendable (ControlKind) -> Int64) {
        self.milliseconds = milliseconds
    }

    public static let `default` = CommandLifetimes { CommandLifetime.maximumMilliseconds(for: $0) }

    /// When a command of `kind` queued at `now` expires.
    public func expiry(of kind: ControlKind, queuedAt now: Timestamp) -> Timestamp {
        let (end, overflow) = now.millisecondsSinceEpoch.addingReportingOverflow(milliseconds(kind))
        return Timestamp(millisecondsSinceEpoch: overflow ? Int64.max : end)
    }
}
