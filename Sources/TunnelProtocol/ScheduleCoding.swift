import TherapyModel

/// The two byte layouts of a `DailySchedule`: a count u8 (1…48), then per entry its start
/// and its value(s).
enum ScheduleLayout {
    /// Command payloads: start as slot u8 (minute / 30), values u32 (non-negative only).
    case compact
    /// Canonical settings (digest, pump state file): start minute u16, values i64.
    case wide

    func entryLength(values: Int) -> Int {
        switch self {
        case .compact: 1 + 4 * values
        case .wide: 2 + 8 * values
        }
    }
}

extension ByteWriter {
    /// Throws `invalidField` for a value the compact layout cannot carry; the wide layout
    /// never throws.
    mutating func appendSchedule<Value>(
        _ schedule: DailySchedule<Value>,
        _ layout: ScheduleLayout,
        field: StaticString = "schedule",
        values: (Value) -> [Int64]
    ) throws(TunnelProtocolError) {
        self.append(UInt8(schedule.entries.count))
        for entry in schedule.entries {
            switch layout {
            case .compact: self.append(UInt8(entry.startMinute / DailySchedule<Value>.slotMinutes))
            case .wide: self.append(UInt16(entry.startMinute))
            }
            for value in values(entry.value) {
                switch layout {
                case .compact: self.append(try PumpCommand.u32(value, field))
                case .wide: self.append(value)
                }
            }
        }
    }
}

extension ByteReader {
    /// The inverse of `appendSchedule`: the count's entries must be there, `make` must
    /// accept each entry's values, and the entries must make a valid `DailySchedule`.
    mutating func readSchedule<Value>(
        _ layout: ScheduleLayout,
        values count: Int,
        _ make: ([Int64]) -> Value?
    ) throws(TunnelProtocolError) -> DailySchedule<Value> {
        try self.need(1, "schedule count")
        let entryCount = Int(self.readUInt8())
        try self.need(entryCount * layout.entryLength(values: count), "schedule entries")
        var entries: [DailySchedule<Value>.Entry] = []
        for index in 0..<entryCount {
            let start: Int
            switch layout {
            case .compact: start = Int(self.readUInt8()) * DailySchedule<Value>.slotMinutes
            case .wide: start = Int(self.readUInt16())
            }
            var raw: [Int64] = []
            for _ in 0..<count {
                switch layout {
                case .compact: raw.append(Int64(self.readUInt32()))
                case .wide: raw.append(self.readInt64())
                }
            }
            guard let value = make(raw) else {
                throw TunnelProtocolError(.invalidField, "schedule entry \(index) holds an impossible value")
            }
            entries.append(.init(startMinute: start, value: value))
        }
        do {
            return try DailySchedule(entries)
        } catch {
            throw TunnelProtocolError(.invalidField, "schedule is not valid: \(error.code.rawValue)")
        }
    }
}
