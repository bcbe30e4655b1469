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
public actor LockoutStore {
    public static let schemaVersion = 1

    public nonisolated let path: String
    let audit: AuditLog
    let executor: SQLiteExecutor
    let connection: SQLiteConnection
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
        do {
            self.connection = try LockoutSchema.open(path: path)
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

    deinit { executor.shutdown() }

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
