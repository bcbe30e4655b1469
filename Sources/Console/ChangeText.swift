import AuditTrail
import ChangeRequests
import TherapyModel

/// Change requests in words, for tables people scan.
enum ChangeText {
    static func summary(_ change: SettingChange) -> String {
        switch change {
        case .bolus(let amount): "bolus \(amount)"
        case .tempBasal(let rate, let minutes): "temporary basal \(rate) for \(minutes) min"
        case .setBasalSchedule(let schedule): "basal schedule (\(schedule.entries.count) segments)"
        case .setMaxBasal(let rate): "maximum basal \(rate)"
        case .setMaxBolus(let amount): "maximum bolus \(amount)"
        case .setCarbRatios(let schedule): "carb ratios (\(schedule.entries.count) segments)"
        case .setSensitivities(let schedule): "insulin sensitivities (\(schedule.entries.count) segments)"
        case .setCorrectionRange(let schedule): "correction range (\(schedule.entries.count) segments)"
        case .setSuspendThreshold(let glucose): "suspend threshold \(glucose)"
        case .suspend: "suspend delivery"
        case .resume: "resume delivery"
        }
    }

    static func row(_ request: ChangeRequest) -> [String: Any] {
        [
            "id": request.id.rawValue,
            "shortID": String(request.id.rawValue.prefix(12)),
            "serial": request.pumpSerial,
            "state": request.state.name,
            "summary": summary(request.change),
            "requester": "\(request.requesterID) (\(request.requesterRole))",
            "created": ConsoleTime.text(request.createdAt.millisecondsSinceEpoch),
            "updated": ConsoleTime.text(request.updatedAt.millisecondsSinceEpoch),
            "reasons": request.decision.reasons.map(\.message).joined(separator: "; "),
        ]
    }
}

/// Times as the console shows them: UTC, to the second.
enum ConsoleTime {
    static func text(_ milliseconds: Int64?) -> String {
        guard let milliseconds else { return "—" }
        let iso = AuditTime.format(milliseconds)
        // 2026-12-05T10:00:00.123Z → 2026-12-05 10:00:00 UTC
        return iso.prefix(19).replacingOccurrences(of: "T", with: " ") + " UTC"
    }

    static func age(_ milliseconds: Int64) -> String {
        let seconds = max(milliseconds / 1000, 0)
        if seconds < 120 { return "\(seconds) s" }
        if seconds < 7_200 { return "\(seconds / 60) min" }
        if seconds < 172_800 { return "\(seconds / 3_600) h" }
        return "\(seconds / 86_400) d"
    }
}
