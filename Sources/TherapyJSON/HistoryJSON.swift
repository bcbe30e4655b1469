import Foundation
import TherapyModel

/// Recent deliveries: `{"deliveries": [{"time": "2026-11-21T07:30:00Z", "kind": "bolus", "milliunits": 3000}]}`.
struct HistoryJSON: Decodable {
    struct RecordJSON: Decodable {
        let value: DeliveryHistory.Record

        init(from decoder: any Decoder) throws {
            let reader = try FieldReader(decoder, fields: ["time", "kind", "milliunits"])
            let text = try reader.string("time")
            guard let time = ISO8601Time.parse(text) else {
                throw reader.error(
                    "time",
                    .invalidValue,
                    "'\(text)' is not an ISO 8601 time; write e.g. 2026-11-21T07:30:00Z"
                )
            }
            value = DeliveryHistory.Record(
                time: time,
                kind: try reader.oneOf(DeliveryHistory.Kind.self, "kind"),
                amount: Milliunits(try reader.nonNegative("milliunits"))
            )
        }
    }

    let value: DeliveryHistory

    init(from decoder: any Decoder) throws {
        let reader = try FieldReader(decoder, fields: ["deliveries"])
        value = DeliveryHistory(records: try reader.decode([RecordJSON].self, "deliveries").map(\.value))
    }
}
