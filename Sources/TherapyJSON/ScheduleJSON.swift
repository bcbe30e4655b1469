import TherapyModel

/// How one kind of schedule value is written in JSON, next to `startMinute`.
protocol ScheduleValueFormat {
    associatedtype Value: Sendable & Hashable
    static var valueFields: [String] { get }
    static func value(from reader: FieldReader) throws -> Value
}

/// `{"startMinute": 0, "milliunitsPerHour": 800}`
enum BasalRateFormat: ScheduleValueFormat {
    static let valueFields = ["milliunitsPerHour"]
    static func value(from reader: FieldReader) throws -> MilliunitsPerHour {
        MilliunitsPerHour(try reader.nonNegative("milliunitsPerHour"))
    }
}

/// `{"startMinute": 0, "gramsPerUnit": 10}`
enum CarbRatioFormat: ScheduleValueFormat {
    static let valueFields = ["gramsPerUnit"]
    static func value(from reader: FieldReader) throws -> CarbRatio {
        CarbRatio(gramsPerUnit: try reader.positive("gramsPerUnit"))
    }
}

/// `{"startMinute": 0, "mgdLPerUnit": 45}`
enum SensitivityFormat: ScheduleValueFormat {
    static let valueFields = ["mgdLPerUnit"]
    static func value(from reader: FieldReader) throws -> InsulinSensitivity {
        InsulinSensitivity(mgdLPerUnit: try reader.positive("mgdLPerUnit"))
    }
}

/// `{"startMinute": 0, "lowerMgdL": 100, "upperMgdL": 120}`
enum CorrectionRangeFormat: ScheduleValueFormat {
    static let valueFields = ["lowerMgdL", "upperMgdL"]
    static func value(from reader: FieldReader) throws -> CorrectionRange {
        let lower = GlucoseMgdL(try reader.positive("lowerMgdL"))
        let upper = GlucoseMgdL(try reader.positive("upperMgdL"))
        return try reader.validated { () throws(TherapyValidationError) in
            try CorrectionRange(lower: lower, upper: upper)
        }
    }
}

/// A schedule: a JSON array of entries, validated as a whole by `DailySchedule`.
struct ScheduleJSON<Format: ScheduleValueFormat>: Decodable {
    let schedule: DailySchedule<Format.Value>

    private struct EntryJSON: Decodable {
        let entry: DailySchedule<Format.Value>.Entry

        init(from decoder: any Decoder) throws {
            let reader = try FieldReader(decoder, fields: ["startMinute"] + Format.valueFields)
            let start = try reader.decode(Int.self, "startMinute")
            entry = DailySchedule.Entry(startMinute: start, value: try Format.value(from: reader))
        }
    }

    init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        var entries: [DailySchedule<Format.Value>.Entry] = []
        // Stop one past the most any schedule may hold, so the count error is reported
        // without reading an arbitrarily long array into memory twice.
        while !container.isAtEnd, entries.count <= DailySchedule<Format.Value>.maximumEntries {
            entries.append(try container.decode(EntryJSON.self).entry)
        }
        schedule = try TherapyJSON.validated(at: decoder.codingPath) { () throws(TherapyValidationError) in
            try DailySchedule(entries)
        }
    }
}
