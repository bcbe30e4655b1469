public import AuditLog
import Foundation
import SQLiteStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The gateway's lockouts, the lockout commands sent to pumps and their acknowledgements, and a
/// directory of pumps' attributes for matching scopes: `STATE/lockouts.sqlite` (WAL,
/// `synchronous=NORMAL`, mode 0600).
///
/// ## The audit log is the record
/// Every step is appended to the audit log (durable on return) before it is written here, with
/// everything needed to redo it (`LockoutAuditRecord`). So nothing is sent to a pump that the log
/// lacks, and a crash or power loss between the append and this store's commit loses nothing:
/// `recover()` rolls forward every lockout entry from the store's recovery floor (an audit index
/// below which every lockout entry is applied) to the end of the log. Applying an entry twice is
/// harmless (rows are keyed by their audit index).
///
/// The pump directory is not from the log: pumps announce their model and firmware in every hello,
/// and a clinician's prescription names the patient, so a lost row is written again.
///
/// ## Shared by several gateway nodes
/// On the audit log's PostgreSQL database (`init(shared:audit:)`) each step is one transaction
/// instead: the log's head lock, the step checked against the rows as they are now (another node
/// may have lifted the lockout meanwhile), the rows, the entry, a notification on
/// `medtunnel_lockout` (`lockoutChannel`), the commit (`LockoutStore+Shared.swift`). A crash
/// leaves both or neither, so there is no recovery floor. The lockouts and the pump directory in
/// memory are a cache of the database's: `refresh()` reads them again (the gateway calls it on
/// every notification and every few seconds), and each step reads its lockout under the lock.
public actor LockoutStore {
    public static let schemaVersion = 1
    /// The channel a shared store notifies, with the lockout's id (or `*`), when a lockout
    /// started, was asked to be lifted, or was lifted.
    public static let lockoutChannel = "medtunnel_lockout"

    public nonisolated let path: String
    let audit: AuditLog
    let executor: SQLiteExecutor
    let connection: any SQLDatabase
    /// Set when the tables live in the audit log's database (PostgreSQL, several nodes).
    let shared: (any SharedAuditDatabase)?
    /// For a shared store: whether its database answers, readable without waiting for the store.
    public nonisolated let databaseHealth: DatabaseHealth?
    /// Tests only: stop dead after the entry is written, before the commit, as a crash would.
    var crashBeforeCommit = false
    /// Every lockout, in start order (a few hundred at most in a service's life; read on every
    /// hello and submission, so kept in memory).
    var lockouts: [Lockout] = []
    var pumps: [String: PumpAttributes] = [:]
    /// Audit-log size read by each step in flight: the recovery floor may not pass the smallest.
    var inflightFloors: [UInt64: UInt64] = [:]
    var nextToken: UInt64 = 0

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// `DIR/lockouts.sqlite`.
    public static func databasePath(stateDirectory: String) -> String { "\(stateDirectory)/lockouts.sqlite" }

    /// Opens (creating on first use) the store of a state directory, writing through `audit`.
    /// Call `recover()` before serving.
    public init(stateDirectory: String, audit: AuditLog) throws(LockoutError) {
        if mkdir(stateDirectory, 0o700) != 0 && errno != EEXIST {
            throw LockoutError(
                .storageFailure,
                "create state directory \(stateDirectory): \(String(cString: strerror(errno)))"
            )
        }
        self.path = Self.databasePath(stateDirectory: stateDirectory)
        self.audit = audit
        self.executor = SQLiteExecutor(name: "lockouts-sqlite")
        self.shared = nil
        self.databaseHealth = nil
        do {
            let connection = try LockoutSchema.open(path: path)
            self.connection = connection
            self.lockouts = try LockoutSchema.loadLockouts(connection)
            for pump in try LockoutSchema.loadPumps(connection) { self.pumps[pump.serial] = pump }
        } catch let error as SQLiteError {
            self.executor.shutdown()
            throw LockoutError(.storageFailure, "\(path): \(error.reason)")
        } catch {
            self.executor.shutdown()
            throw LockoutError(.storageFailure, "\(path): \(error)")
        }
    }

    /// The store on a database shared with the audit log and with other gateway nodes
    /// (`SharedAuditDatabase`), whose migrations made its tables (version 4). `audit` must be the
    /// log in that same database. Call `refresh()` (or `recover()`) before serving.
    public init(shared database: sending any SharedAuditDatabase, audit: AuditLog) {
        self.path = database.name
        self.audit = audit
        self.executor = SQLiteExecutor(name: "lockouts-postgres")
        self.databaseHealth = database.health
        self.shared = database
        self.connection = database
    }

    deinit { executor.shutdown() }

    /// Whether the tables are in a database shared with other nodes (each step then takes the
    /// pump's sequence itself: `recordSentTakingSequence`).
    public nonisolated var isShared: Bool { databaseHealth != nil }

    /// Reads the lockouts, and with `pumps` the pump directory, again from a shared database,
    /// where other nodes write them. Nothing to do on SQLite, where this store is the only writer.
    /// The periodic sweep leaves the directory out: a fleet's directory is large, and what a
    /// node's connected pumps are it learnt from their hellos.
    public func refresh(pumps: Bool = true) throws(LockoutError) {
        guard shared != nil else { return }
        self.lockouts = try storage("read the lockouts") { try LockoutSchema.loadLockouts(connection) }
        guard pumps else { return }
        let directory = try storage("read the pump directory") { try LockoutSchema.loadPumps(connection) }
        self.pumps = Dictionary(directory.map { ($0.serial, $0) }, uniquingKeysWith: { _, last in last })
    }

    // MARK: Reading

    /// Every lockout, newest first.
    public func all() -> [Lockout] { lockouts.reversed() }

    public func lockout(_ id: LockoutID) -> Lockout? { lockouts.first { $0.id == id } }

    /// The lockouts in force (not lifted), oldest first.
    public func active() -> [Lockout] { lockouts.filter(\.isActive) }

    /// What the active lockouts ask of the pump with `attributes` (its directory entry fills in
    /// what the caller does not know).
    public func order(for attributes: PumpAttributes) -> LockoutOrder {
        LockoutOrder.of(lockouts, for: merged(attributes))
    }

    /// The pump's attributes as the directory knows them.
    public func attributes(of serial: String) -> PumpAttributes {
        pumps[serial] ?? PumpAttributes(serial: serial)
    }

    /// Phones shut out by an active `phone:` lockout.
    public func lockedOutPhones() -> Set<String> {
        var phones: Set<String> = []
        for lockout in lockouts where lockout.isActive {
            if case .phone(let id) = lockout.scope { phones.insert(id) }
        }
        return phones
    }

    /// Every pump in the directory.
    public func knownPumps() -> [PumpAttributes] { pumps.values.sorted { $0.serial < $1.serial } }

    /// The pumps of the directory that `scope` covers.
    public func pumps(coveredBy scope: LockoutScope) -> [PumpAttributes] {
        knownPumps().filter { scope.covers($0) }
    }

    /// When each pump applied a `lockoutStart` that carried `id` (serial → milliseconds).
    public func acknowledgements(of id: LockoutID) throws(LockoutError) -> [String: Int64] {
        try storage("read acknowledgements of \(id)") { try LockoutSchema.acknowledgements(connection, id) }
    }

    /// Whether `serial` ever applied a `lockoutStart` of this gateway (so a lift is the gateway's
    /// to send when it reports a lockout no lockout covers).
    public func hasApplied(serial: String) throws(LockoutError) -> Bool {
        try storage("read acknowledgements of \(serial)") { try LockoutSchema.hasAcknowledgement(connection, serial) }
    }

    // MARK: The pump directory

    /// Records what the gateway learnt of a pump (nil fields keep what is known). Cheap when
    /// nothing changed; a failed write is only logged by the caller, the next hello writes it again.
    public func notePump(_ attributes: PumpAttributes, now: Int64) throws(LockoutError) {
        let merged = merged(attributes)
        guard pumps[attributes.serial] != merged else { return }
        try storage("record pump \(attributes.serial)") {
            try LockoutSchema.upsertPump(connection, merged, now: now)
        }
        pumps[attributes.serial] = merged
    }

    func merged(_ attributes: PumpAttributes) -> PumpAttributes {
        guard let known = pumps[attributes.serial] else { return attributes }
        return PumpAttributes(
            serial: attributes.serial,
            patient: attributes.patient ?? known.patient,
            model: attributes.model ?? known.model,
            firmware: attributes.firmware ?? known.firmware
        )
    }

    func storage<T>(_ what: String, _ body: () throws -> T) throws(LockoutError) -> T {
        do {
            return try body()
        } catch let error as SQLiteError {
            throw LockoutError(.storageFailure, "\(path): \(what): \(error.reason)")
        } catch let error as LockoutError {
            throw error
        } catch let error as AuditLogError where error.code == .databaseUnavailable {
            throw LockoutError(.databaseUnavailable, "\(what): \(error.reason)")
        } catch {
            throw LockoutError(.storageFailure, "\(path): \(what): \(error)")
        }
    }
}

extension LockoutStore {
    /// Where each pump of the directory stands against the lockouts in force, counted:
    /// `unlocked` (no lockout covers it), `locking` (covered, and it has not yet applied the
    /// `lockoutStart` of every lockout that covers it), `locked` (it has). For the metrics
    /// (`medtunnel_gateway_pumps_lockout{state}`): the directory and the lockouts are in memory;
    /// one read of the acknowledgements per lockout in force (a handful).
    public func pumpLockoutStates() throws(LockoutError) -> [String: Int] {
        let active = lockouts.filter(\.isActive)
        var acknowledged: [LockoutID: [String: Int64]] = [:]
        for lockout in active { acknowledged[lockout.id] = try acknowledgements(of: lockout.id) }
        var counts = ["unlocked": 0, "locking": 0, "locked": 0]
        for pump in pumps.values {
            let covering = active.filter { $0.scope.covers(pump) }
            if covering.isEmpty {
                counts["unlocked", default: 0] += 1
            } else if covering.allSatisfy({ acknowledged[$0.id]?[pump.serial] != nil }) {
                counts["locked", default: 0] += 1
            } else {
                counts["locking", default: 0] += 1
            }
        }
        return counts
    }
}
