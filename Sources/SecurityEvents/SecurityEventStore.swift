public import AnomalyRules
public import AuditLog
import Foundation
import SQLiteStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Security events and alerts: written to the audit log first (durable), then indexed in
/// `STATE/events.sqlite` (WAL, `synchronous=NORMAL`) so that `GET /v1/events` and
/// `GET /v1/alerts` filter them without reading the whole log. The index is a view of the log:
/// `recover()` rolls forward every `security.event` and `alert.*` entry from its recovery floor.
///
/// ## Shared by several gateway nodes
/// On the audit log's PostgreSQL database (`init(shared:audit:)`) the tables are every node's:
/// an event recorded on one node is listed on all, an alert raised on one is acknowledged on any.
/// An event or a raised alert is appended to the log as any entry is (while the database is away
/// it waits in the log, as other appends do), then its row is written: nothing to check against
/// other nodes. An acknowledgement is one transaction (`SecurityEventStore+Shared.swift`): the
/// log's head lock, the alert read again under it (two nodes acknowledging one alert at once:
/// one acknowledgement, one entry), the row, the entry, the commit. The rules that raise alerts
/// count what their own node saw (docs/cluster.md).
public actor SecurityEventStore {
    public static let schemaVersion = 1

    public nonisolated let path: String
    let audit: AuditLog
    let executor: SQLiteExecutor
    let connection: any SQLDatabase
    /// Set when the tables live in the audit log's database (PostgreSQL, several nodes).
    let shared: (any SharedAuditDatabase)?
    /// For a shared store: whether its database answers, readable without waiting for the store.
    public nonisolated let databaseHealth: DatabaseHealth?
    var inflightFloors: [UInt64: UInt64] = [:]
    var nextToken: UInt64 = 0

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    public static func databasePath(stateDirectory: String) -> String { "\(stateDirectory)/events.sqlite" }

    public init(stateDirectory: String, audit: AuditLog) throws(SecurityEventError) {
        if mkdir(stateDirectory, 0o700) != 0 && errno != EEXIST {
            throw SecurityEventError(
                .storageFailure,
                "create state directory \(stateDirectory): \(String(cString: strerror(errno)))"
            )
        }
        self.path = Self.databasePath(stateDirectory: stateDirectory)
        self.audit = audit
        self.executor = SQLiteExecutor(name: "events-sqlite")
        self.shared = nil
        self.databaseHealth = nil
        do {
            self.connection = try EventSchema.open(path: path)
        } catch {
            self.executor.shutdown()
            throw SecurityEventError(.storageFailure, "\(path): \(error)")
        }
    }

    /// The store on a database shared with the audit log and with other gateway nodes
    /// (`SharedAuditDatabase`), whose migrations made its tables (version 6). `audit` must be the
    /// log in that same database.
    public init(shared database: sending any SharedAuditDatabase, audit: AuditLog) {
        self.path = database.name
        self.audit = audit
        self.executor = SQLiteExecutor(name: "events-postgres")
        self.databaseHealth = database.health
        self.shared = database
        self.connection = database
    }

    deinit { executor.shutdown() }

    /// Whether the tables are in a database shared with other nodes.
    public nonisolated var isShared: Bool { databaseHealth != nil }

    // MARK: Events

    /// Appends `event` (standing for `count` events) to the audit log, then indexes it.
    @discardableResult
    public func append(
        _ event: ObservedEvent,
        count: Int = 1,
        minute: Int64? = nil
    ) async throws(SecurityEventError)
        -> UInt64
    {
        let record = SecurityEventRecord(event, count: count, minute: minute)
        return try await step { () throws -> AuditEvent in
            try record.auditEvent(time: event.timeMilliseconds, pump: event.pump)
        } apply: { index in
            try EventSchema.insertEvent(
                self.connection,
                record,
                time: event.timeMilliseconds,
                pump: event.pump,
                auditIndex: index
            )
        }
    }

    /// Indexes a security event another part of the gateway already wrote to the audit log.
    public func index(_ event: ObservedEvent, auditIndex: UInt64) throws(SecurityEventError) {
        try storage("index security event \(auditIndex)") {
            try EventSchema.insertEvent(
                connection,
                SecurityEventRecord(event),
                time: event.timeMilliseconds,
                pump: event.pump,
                auditIndex: auditIndex
            )
        }
    }

    /// Events newest first, filtered.
    public func events(
        since: Int64? = nil,
        kind: String? = nil,
        pump: String? = nil,
        phone: String? = nil,
        limit: Int = 100
    ) throws(SecurityEventError) -> [StoredSecurityEvent] {
        try storage("read security events") {
            try EventSchema.events(connection, since: since, kind: kind, pump: pump, phone: phone, limit: limit)
        }
    }

    // MARK: Alerts

    /// Records that a rule fired (`alert.raised`, durable) and returns the alert.
    public func raise(_ firing: RuleFiring, lockoutID: String? = nil) async throws(SecurityEventError) -> Alert {
        let id = Self.newAlertID()
        let record = AlertRecord(raising: firing, id: id, lockoutID: lockoutID)
        try await step { () throws -> AuditEvent in
            try record.auditEvent(actor: try AuditActor(id: "rules", role: "system"))
        } apply: { index in
            try EventSchema.apply(self.connection, record, actor: "rules", auditIndex: index)
        }
        return try requireAlert(id)
    }

    /// Someone acknowledged alert `id` (`alert.acknowledged`, durable).
    public func acknowledge(_ id: String, by actor: AuditActor, now: Int64) async throws(SecurityEventError) -> Alert {
        let current = try requireAlert(id)
        if let by = current.acknowledgedBy {
            throw SecurityEventError(.alreadyAcknowledged, "alert \(id) was already acknowledged by \(by)")
        }
        let record = AlertRecord(acknowledging: id, at: now)
        if let shared {
            try stepShared("alert.acknowledged", in: shared) { () throws -> AuditEvent in
                // Under the lock: another node may have acknowledged it since the check above.
                if let by = try EventSchema.alert(shared, id)?.acknowledgedBy {
                    throw SecurityEventError(.alreadyAcknowledged, "alert \(id) was already acknowledged by \(by)")
                }
                return try record.auditEvent(actor: actor)
            } apply: { index in
                try EventSchema.apply(shared, record, actor: actor.id, auditIndex: index)
            }
            return try requireAlert(id)
        }
        try await step { () throws -> AuditEvent in
            try record.auditEvent(actor: actor)
        } apply: { index in
            try EventSchema.apply(self.connection, record, actor: actor.id, auditIndex: index)
        }
        return try requireAlert(id)
    }

    /// Alerts newest first; `open` alone: only those not yet acknowledged.
    public func alerts(openOnly: Bool = false, limit: Int = 100) throws(SecurityEventError) -> [Alert] {
        try storage("read alerts") { try EventSchema.alerts(connection, openOnly: openOnly, limit: limit) }
    }

    public func alert(_ id: String) throws(SecurityEventError) -> Alert? {
        try storage("read alert \(id)") { try EventSchema.alert(connection, id) }
    }

    func requireAlert(_ id: String) throws(SecurityEventError) -> Alert {
        guard let found = try alert(id) else {
            throw SecurityEventError(.notFound, "no alert '\(id.prefix(80))'; GET /v1/alerts lists them")
        }
        return found
    }

    static func newAlertID() -> String {
        var generator = SystemRandomNumberGenerator()
        let hex = String(generator.next() as UInt64, radix: 16)
        return "alt_" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    // MARK: Append, then apply

    @discardableResult
    func step(
        _ event: () throws -> AuditEvent,
        apply: (UInt64) throws -> Void
    ) async throws(SecurityEventError) -> UInt64 {
        let token = nextToken
        nextToken += 1
        inflightFloors[token] = 0  // held at 0 while the size is read: no floor passes this step
        inflightFloors[token] = await audit.size
        defer { inflightFloors[token] = nil }
        let index: UInt64
        do {
            index = try await audit.append(try event()).index
        } catch {
            throw SecurityEventError(.auditFailed, "not written to the audit log: \(error)")
        }
        let floor = inflightFloors.filter { $0.key != token }.values.min() ?? (index + 1)
        if shared != nil {
            try await indexShared(index, apply)
            return index
        }
        try storage("index audit entry \(index)") {
            try connection.writeTransaction {
                try apply(index)
                try EventSchema.raiseFloor(connection, meta: "meta", to: floor)
            }
        }
        return index
    }

    /// The row of an entry already in the shared log (the floor there is `recover()`'s alone:
    /// see its comment). The entry is durable, so a database that is away is waited for a while
    /// (the log waited for it too, and this store's connection may answer a moment later);
    /// past that the error is thrown and the next `recover()` of any node writes the row.
    private func indexShared(_ index: UInt64, _ apply: (UInt64) throws -> Void) async throws(SecurityEventError) {
        let deadline = ContinuousClock.now + .seconds(15)
        var delay = Duration.milliseconds(200)
        while true {
            do throws(SecurityEventError) {
                try storage("index audit entry \(index)") { try apply(index) }
                return
            } catch  where error.code == .databaseUnavailable && ContinuousClock.now < deadline {
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(2))
            }
        }
    }

    /// Rolls forward every security event and alert entry of the log the index lacks. On a shared
    /// database it catches the events and alerts whose node stopped between the entry and the
    /// row, and the events other stores wrote (`index(_:auditIndex:)`) that their node did not
    /// index. Its floor there is the log's size when the last recovery of any node began: every
    /// entry below it was committed and read by that recovery (a step in flight on another node
    /// meanwhile writes its own row, or the next recovery finds it).
    public func recover() async throws(SecurityEventError) {
        do {
            let size = try await audit.storedSize()
            let meta = EventSchema.metaTable(shared: shared != nil)
            var start = try EventSchema.floor(connection, meta: meta)
            while start < size {
                let end = min(size, start + 4096)
                let entries = try await audit.entries(in: start..<end)
                try connection.writeTransaction {
                    for entry in entries {
                        if let record = SecurityEventRecord(entry) {
                            try EventSchema.insertEvent(
                                connection,
                                record,
                                time: entry.event.timeMilliseconds,
                                pump: entry.event.pumpSerial,
                                auditIndex: entry.index
                            )
                        } else if let record = AlertRecord(entry) {
                            try EventSchema.apply(
                                connection,
                                record,
                                actor: entry.event.actor.id,
                                auditIndex: entry.index
                            )
                        }
                    }
                    try EventSchema.raiseFloor(connection, meta: meta, to: end)
                }
                start = end
            }
        } catch let error as SecurityEventError {
            throw error
        } catch {
            throw SecurityEventError(.storageFailure, "recover the event index from the audit log: \(error)")
        }
    }

    func storage<T>(_ what: String, _ body: () throws -> T) throws(SecurityEventError) -> T {
        do {
            return try body()
        } catch let error as SecurityEventError {
            throw error
        } catch let error as AuditLogError where error.code == .databaseUnavailable {
            throw SecurityEventError(.databaseUnavailable, "\(what): \(error.reason)")
        } catch let error as SQLiteError {
            throw SecurityEventError(.storageFailure, "\(path): \(what): \(error.reason)")
        } catch {
            throw SecurityEventError(.storageFailure, "\(path): \(what): \(error)")
        }
    }
}

/// Why an event or alert operation failed: a stable `code` and a `reason`.
public struct SecurityEventError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        public static let storageFailure = Code(rawValue: "storage_failure")
        public static let auditFailed = Code(rawValue: "audit_failed")
        public static let notFound = Code(rawValue: "alert_not_found")
        public static let alreadyAcknowledged = Code(rawValue: "already_acknowledged")
        /// The shared database did not answer; the step may or may not be recorded.
        public static let databaseUnavailable = Code(rawValue: "database_unavailable")
        public var description: String { rawValue }
    }

    public let code: Code
    public let reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code): \(reason)" }
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
