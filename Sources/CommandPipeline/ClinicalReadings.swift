import SafetyPolicy
import TherapyModel
import TunnelProtocol

/// What a pump's telemetry said last, each reading with the time the policy gives it: the
/// gateway's receipt time, or the pump's own earlier timestamp when it is plausible (within a
/// day before receipt, at most a minute ahead). A relay that holds a record back cannot make a
/// reading look fresher than the pump's clock says; a pump whose clock is unset (the simulator's
/// counts from 1970) is dated by its receipt.
struct ClinicalReadings: Sendable {
    var reservoir: ReportedPumpState.Reading<Milliunits>?
    var glucose: ReportedPumpState.Reading<GlucoseMgdL>?
    var suspended: ReportedPumpState.Reading<Bool>?
    var battery: ReportedPumpState.Reading<Int64>?
    /// When these readings were last shared with the other nodes (a shared database only).
    var sharedAt: Int64?

    mutating func note(_ telemetry: InnerMessage.Telemetry, received: Timestamp) {
        let time = Self.readingTime(pump: telemetry.timeMilliseconds, received: received)
        reservoir = .init(Milliunits(Int64(telemetry.reservoirMilliunits)), at: time)
        if telemetry.glucoseMgPerDL > 0 { glucose = .init(GlucoseMgdL(Int64(telemetry.glucoseMgPerDL)), at: time) }
        suspended = .init(telemetry.flags.contains(.suspended), at: time)
        battery = .init(Int64(telemetry.batteryPercent), at: time)
    }

    static func readingTime(pump: Int64, received: Timestamp) -> Timestamp {
        let receivedMs = received.millisecondsSinceEpoch
        guard pump <= receivedMs + 60_000, pump >= receivedMs - 86_400_000 else { return received }
        return Timestamp(millisecondsSinceEpoch: min(pump, receivedMs))
    }

    /// The policy's view: these readings, with the mode from the pump's hello or
    /// acknowledgement when that is newer than the telemetry's.
    func state(mode: ReportedPumpState.Reading<Bool>?) -> ReportedPumpState {
        var suspendedReading = suspended
        if let mode, mode.time >= (suspended?.time ?? Timestamp(millisecondsSinceEpoch: .min)) {
            suspendedReading = mode
        }
        return ReportedPumpState(
            suspended: suspendedReading,
            reservoir: reservoir,
            glucose: glucose,
            batteryPercent: battery
        )
    }

    /// Whether these readings should be shared now: on a shared database, at most every
    /// ``shareInterval`` milliseconds per pump, and at once when whether it is suspended changed.
    mutating func shareDue(now: Timestamp, shared: Bool) -> Bool {
        guard shared else { return false }
        let due = sharedAt.map { now.millisecondsSinceEpoch - $0 >= Self.shareInterval } ?? true
        guard due else { return false }
        sharedAt = now.millisecondsSinceEpoch
        return true
    }

    /// Telemetry arrives every minute or so per pump; sharing it every 30 s at most keeps the
    /// database's writes per pump bounded, well inside the policy's freshness windows.
    static let shareInterval: Int64 = 30_000
}
