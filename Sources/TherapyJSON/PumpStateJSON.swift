public import Foundation
public import SafetyPolicy
import TherapyModel

/// What a pump reported about itself, for `medtunnel policy evaluate --pump-state`:
///
/// ```
/// {"suspended": {"value": false, "at": "2026-11-21T07:59:00Z"},
///  "reservoirMilliunits": {"value": 150000, "at": "…"},
///  "glucoseMgPerDL": {"value": 120, "at": "…"}}
/// ```
/// Every field is optional (absent: never reported, read as unknown).
struct PumpStateJSON: Decodable {
    struct Reading: Decodable {
        let value: Int64
        let at: Timestamp

        init(from decoder: any Decoder) throws {
            let reader = try FieldReader(decoder, fields: ["value", "at"])
            if let flag = try? reader.decode(Bool.self, "value") {
                value = flag ? 1 : 0
            } else {
                value = try reader.nonNegative("value")
            }
            let text = try reader.string("at")
            guard let time = ISO8601Time.parse(text) else {
                throw reader.error(
                    "at",
                    .invalidValue,
                    "'\(text)' is not an ISO 8601 time; write e.g. 2026-11-21T07:30:00Z"
                )
            }
            at = time
        }
    }

    let value: ReportedPumpState

    init(from decoder: any Decoder) throws {
        let reader = try FieldReader(
            decoder,
            fields: ["suspended", "reservoirMilliunits", "glucoseMgPerDL", "batteryPercent"]
        )
        let suspended = try reader.decodeIfPresent(Reading.self, "suspended")
        let reservoir = try reader.decodeIfPresent(Reading.self, "reservoirMilliunits")
        let glucose = try reader.decodeIfPresent(Reading.self, "glucoseMgPerDL")
        let battery = try reader.decodeIfPresent(Reading.self, "batteryPercent")
        value = ReportedPumpState(
            suspended: suspended.map { .init($0.value != 0, at: $0.at) },
            reservoir: reservoir.map { .init(Milliunits($0.value), at: $0.at) },
            glucose: glucose.map { .init(GlucoseMgdL($0.value), at: $0.at) },
            batteryPercent: battery.map { .init($0.value, at: $0.at) }
        )
    }
}

extension TherapyJSON {
    /// A pump's reported state (`PumpStateJSON`).
    public static func pumpState(from data: Data) throws(TherapyJSONError) -> ReportedPumpState {
        try decode(PumpStateJSON.self, from: data).value
    }
}
