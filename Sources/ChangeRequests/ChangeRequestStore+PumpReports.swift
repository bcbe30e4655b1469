import SQLiteStore
public import SafetyPolicy
public import TherapyModel

/// What each pump last reported of itself, shared among gateway nodes: the node holding the
/// pump's session writes it, and a node taking a change for the pump reads it for the policy's
/// clinical checks (suspended, reservoir, glucose). Not audited: an observation, not a step; the
/// policy judges its freshness by the readings' own times, so a stale report only makes a
/// change wait for a second person, as an unknown state does. On SQLite (one gateway) there is
/// nothing to share: every pump's session is on the one node.
extension ChangeRequestStore {
    /// The report the node with the pump's session last shared; nil on SQLite or when none was.
    public func sharedReport(for serial: String) throws -> ReportedPumpState? {
        guard shared != nil else { return nil }
        return try reading("read the report of pump \(serial)") {
            let select = try connection.prepare(
                """
                SELECT suspended, suspended_ms, reservoir, reservoir_ms, glucose, glucose_ms, battery, battery_ms
                FROM pump_report WHERE pump_serial = ?
                """
            )
            try select.bind(serial, at: 1)
            guard try select.step() else { return nil }
            func reading<Value>(_ column: Int32, _ make: (Int64) -> Value) -> ReportedPumpState.Reading<Value>? {
                guard !select.isNull(column), !select.isNull(column + 1) else { return nil }
                return .init(
                    make(select.int64(column)),
                    at: Timestamp(millisecondsSinceEpoch: select.int64(column + 1))
                )
            }
            return ReportedPumpState(
                suspended: reading(0) { $0 != 0 },
                reservoir: reading(2) { Milliunits($0) },
                glucose: reading(4) { GlucoseMgdL($0) },
                batteryPercent: reading(6) { $0 }
            )
        }
    }

    /// Shares `report` for the other nodes (nothing on SQLite). A report older than the stored
    /// one (a node that held the session before, late) leaves the newer in place.
    public func shareReport(_ report: ReportedPumpState, for serial: String, node: String) throws {
        guard shared != nil else { return }
        let times = [report.suspended?.time, report.reservoir?.time, report.glucose?.time, report.batteryPercent?.time]
        guard let newest = times.compactMap({ $0?.millisecondsSinceEpoch }).max() else { return }
        try reading("share the report of pump \(serial)") {
            let upsert = try connection.prepare(
                """
                INSERT INTO pump_report(pump_serial, suspended, suspended_ms, reservoir, reservoir_ms, glucose, glucose_ms,
                    battery, battery_ms, node_id, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(pump_serial) DO UPDATE SET suspended = excluded.suspended,
                    suspended_ms = excluded.suspended_ms, reservoir = excluded.reservoir,
                    reservoir_ms = excluded.reservoir_ms, glucose = excluded.glucose, glucose_ms = excluded.glucose_ms,
                    battery = excluded.battery, battery_ms = excluded.battery_ms, node_id = excluded.node_id,
                    updated_ms = excluded.updated_ms
                WHERE excluded.updated_ms >= pump_report.updated_ms
                """
            )
            try upsert.bind(serial, at: 1)
            try upsert.bind(report.suspended.map { $0.value ? 1 : 0 }, at: 2)
            try upsert.bind(report.suspended?.time.millisecondsSinceEpoch, at: 3)
            try upsert.bind(report.reservoir?.value.rawValue, at: 4)
            try upsert.bind(report.reservoir?.time.millisecondsSinceEpoch, at: 5)
            try upsert.bind(report.glucose?.value.rawValue, at: 6)
            try upsert.bind(report.glucose?.time.millisecondsSinceEpoch, at: 7)
            try upsert.bind(report.batteryPercent?.value, at: 8)
            try upsert.bind(report.batteryPercent?.time.millisecondsSinceEpoch, at: 9)
            try upsert.bind(node, at: 10)
            try upsert.bind(newest, at: 11)
            try upsert.run()
        }
    }
}
