public import AccessTokens
import AuditLog
public import Foundation
public import Lockouts
import SafetyPolicy
import TherapyModel

/// The operations behind the lockout routes, free of any HTTP framework (as the change routes'):
///
/// | route                                   | method               | who                       |
/// |-----------------------------------------|----------------------|---------------------------|
/// | `POST /v1/lockouts`                     | `startLockout`       | incident                  |
/// | `GET /v1/lockouts`                      | `lockoutList`        | incident, operator, admin |
/// | `GET /v1/lockouts/{id}`                 | `lockoutDetail`      | incident, operator, admin |
/// | `POST /v1/lockouts/{id}/lift`           | `requestLockoutLift` | incident                  |
/// | `POST /v1/lockouts/{id}/lift/confirm`   | `confirmLockoutLift` | incident, not the asker   |
///
/// A lockout is audited (`lockout.started`) before anything is sent for it; then every pump it
/// covers that the gateway knows is told on its own worker (a connected pump gets `lockoutStart`
/// first, its changes not yet sent are cancelled), and a pump that connects later reads the same
/// order from the store in its hello.
extension CommandPipeline {
    /// A lockout and where it stands on each pump it covers.
    public struct LockoutView: Sendable {
        public let lockout: Lockout
        public let pumps: [LockoutPumpStatus]
        /// Whether `pumps` is the list of covered pumps (the detail) or left empty (a list).
        public let detailed: Bool
    }

    /// One covered pump: connected now, when it applied the lockout (nil: not yet), and when the
    /// last lockout command was sent to it this run of the gateway.
    public struct LockoutPumpStatus: Sendable, Hashable {
        public let serial: String
        public let connected: Bool
        public let acknowledgedAt: Int64?
        public let lastSentAt: Int64?

        /// `acknowledged`, `pending` (connected, not yet acknowledged) or `offline` (gets it on connect).
        public var state: String {
            if acknowledgedAt != nil { return "acknowledged" }
            return connected ? "pending" : "offline"
        }
    }

    /// The body of `POST /v1/lockouts`.
    struct LockoutRequestBody: Decodable {
        let scope: String
        let reason: String
        let suspendDelivery: Bool?
    }

    public nonisolated func startLockout(body: Data, authorization: String?) async throws(ChangeAPIError) -> LockoutView
    {
        let user = try await authenticate(authorization)
        try await requireIncident(user, operation: "start_lockout", target: "lockouts")
        let lockouts = try requireLockouts()
        let request: LockoutRequestBody
        do {
            request = try Self.strictDecoder.decode(LockoutRequestBody.self, from: body)
            try Self.rejectUnknownFields(body, allowed: ["scope", "reason", "suspendDelivery"])
        } catch let error as ChangeAPIError {
            throw error
        } catch {
            throw .badRequest(
                "invalid_input",
                "lockout: give {\"scope\": \"pump:SERIAL|patient:ID|phone:ID|model:NAME|firmware:VERSION|all\", "
                    + "\"reason\": \"…\", \"suspendDelivery\": false} (\(Self.describe(error)))"
            )
        }
        let lockout: Lockout
        do {
            let scope = try LockoutScope(parsing: request.scope)
            lockout = try await lockouts.start(
                scope: scope,
                reason: request.reason,
                suspendDelivery: request.suspendDelivery ?? false,
                by: try AuditActor(id: user.account.id, role: user.actor.role.rawValue),
                now: clock().millisecondsSinceEpoch
            )
        } catch let error as LockoutError {
            throw Self.apiError(error)
        } catch {
            throw .internal(error)
        }
        logger.notice(
            "lockout started",
            metadata: [
                "lockout": "\(lockout.id)", "scope": "\(lockout.scope)", "by": "\(user.account.id)",
                "audit": "\(lockout.started.auditIndex)",
            ]
        )
        await fanOut(lockout)
        return try await view(lockout, detailed: true)
    }

    public nonisolated func lockoutList(authorization: String?) async throws(ChangeAPIError) -> [LockoutView] {
        let user = try await authenticate(authorization)
        try await requireReviewer(user, operation: "list_lockouts", target: "lockouts")
        let lockouts = try requireLockouts()
        try await refreshShared(lockouts)
        return await lockouts.all().map { LockoutView(lockout: $0, pumps: [], detailed: false) }
    }

    public nonisolated func lockoutDetail(
        _ id: String,
        authorization: String?
    ) async throws(ChangeAPIError)
        -> LockoutView
    {
        let user = try await authenticate(authorization)
        try await requireReviewer(user, operation: "read_lockout", target: id)
        return try await view(try await existingLockout(id), detailed: true)
    }

    /// The first incident user asks to lift lockout `id`; it stays in force until another confirms.
    public nonisolated func requestLockoutLift(
        _ id: String,
        authorization: String?
    ) async throws(ChangeAPIError)
        -> LockoutView
    {
        let user = try await authenticate(authorization)
        try await requireIncident(user, operation: "lift_lockout", target: id)
        let lockout = try await existingLockout(id)
        let lifted = try await liftStep(lockout.id, user: user, operation: "lift_lockout") { store, actor, now in
            try await store.requestLift(lockout.id, by: actor, now: now)
        }
        logger.notice("lockout lift requested", metadata: ["lockout": "\(id)", "by": "\(user.account.id)"])
        return try await view(lifted, detailed: true)
    }

    /// A second incident user confirms the lift (403 `same_person` for the one who asked): the
    /// lockout ends, and the pumps it alone covered are sent `lockoutLift`.
    public nonisolated func confirmLockoutLift(
        _ id: String,
        authorization: String?
    ) async throws(ChangeAPIError)
        -> LockoutView
    {
        let user = try await authenticate(authorization)
        try await requireIncident(user, operation: "confirm_lockout_lift", target: id)
        let lockout = try await existingLockout(id)
        let lifted = try await liftStep(lockout.id, user: user, operation: "confirm_lockout_lift") {
            store,
            actor,
            now in
            try await store.confirmLift(lockout.id, by: actor, now: now)
        }
        logger.notice(
            "lockout lifted",
            metadata: [
                "lockout": "\(id)", "asked_by": "\(lifted.liftRequested?.actorID ?? "?")",
                "confirmed_by": "\(user.account.id)",
            ]
        )
        await fanOut(lifted)
        return try await view(lifted, detailed: true)
    }

    /// A lockout a rule started (no person: the actor is `rule:NAME`, role `incident`). Returns
    /// the lockout in force over `scope` if there already is one, else the new one; nil if it
    /// could not be started (logged).
    public nonisolated func startAutomaticLockout(scope: LockoutScope, rule: String, reason: String) async -> Lockout? {
        guard let lockouts else { return nil }
        if let existing = await lockouts.active().first(where: { $0.scope == scope }) { return existing }
        do {
            let lockout = try await lockouts.start(
                scope: scope,
                reason: "automatic (rule \(rule)): \(reason)",
                suspendDelivery: false,
                by: try AuditActor(id: "rule:\(rule)", role: ActorRole.incident.rawValue),
                now: clock().millisecondsSinceEpoch
            )
            logger.warning(
                "automatic lockout started",
                metadata: ["lockout": "\(lockout.id)", "scope": "\(scope)", "rule": "\(rule)"]
            )
            await fanOut(lockout)
            return lockout
        } catch {
            logger.error(
                "automatic lockout failed",
                metadata: ["scope": "\(scope)", "rule": "\(rule)", "error": "\(error)"]
            )
            return nil
        }
    }

    /// Authenticates a reader of the incident tools (incident staff, operators, admins).
    public nonisolated func authenticateReviewer(
        _ authorization: String?,
        operation: String
    ) async throws(ChangeAPIError)
        -> AuthenticatedUser
    {
        let user = try await authenticate(authorization)
        try await requireReviewer(user, operation: operation, target: operation)
        return user
    }

    // MARK: Fan-out

    /// Tells every pump the lockout covers (that the gateway knows) to read its order again, on
    /// its own worker; a phone lockout tells the gateway to close the phones' uplinks.
    nonisolated func fanOut(_ lockout: Lockout) async {
        guard let lockouts else { return }
        if !lockout.scope.locksPumps {
            let phones = await lockouts.lockedOutPhones()
            phoneLockoutObserver.withLock { $0 }?(phones)
            return
        }
        // One query for the pumps with changes to cancel, not one per pump of a fleet.
        let withOpenChanges = Set((try? await store.pumpsWithOpenRequests()) ?? [])
        for serial in await coveredSerials(lockout.scope, in: lockouts) {
            let open = withOpenChanges.contains(serial)
            mailboxes.post(
                .job(PumpJob(run: { await self.refreshLockoutOrder(serial, hasOpenChanges: open) }, abandon: {})),
                to: serial
            )
        }
    }

    /// The pumps `scope` covers that the gateway knows of, and a `pump:` scope's serial even
    /// before that pump was ever seen.
    nonisolated func coveredSerials(_ scope: LockoutScope, in lockouts: LockoutStore) async -> [String] {
        var serials = await lockouts.pumps(coveredBy: scope).map(\.serial)
        if case .pump(let serial) = scope, !serials.contains(serial) { serials.append(serial) }
        return serials
    }

    /// The lockouts changed on some node (the shared database's notification, or the periodic
    /// sweep behind it): the store reads them again, and every pump connected here reads its
    /// order again on its own worker, as after a lockout started here (a new lockout is sent,
    /// a lifted one lifted); the phones' observer is told the phones now shut out.
    public func lockoutsChanged() async {
        guard let lockouts else { return }
        do {
            try await lockouts.refresh(pumps: false)
        } catch {
            logger.warning("could not read the lockouts again", metadata: ["error": "\(error)"])
            return
        }
        // Only a lockout started or lifted changes what any pump is told; a sweep that finds
        // the same set costs one read.
        let inForce = Set(await lockouts.active().map(\.id))
        guard inForce != lockoutsInForceToldPumps else { return }
        lockoutsInForceToldPumps = inForce
        let phones = await lockouts.lockedOutPhones()
        phoneLockoutObserver.withLock { $0 }?(phones)
        let connected = pumps.filter { $0.value.delivery.session != nil }.map(\.key)
        guard !connected.isEmpty else { return }
        let withOpenChanges = Set((try? await store.pumpsWithOpenRequests()) ?? [])
        for serial in connected.sorted() {
            let open = withOpenChanges.contains(serial)
            mailboxes.post(
                .job(PumpJob(run: { await self.refreshLockoutOrder(serial, hasOpenChanges: open) }, abandon: {})),
                to: serial
            )
        }
    }

    /// `refreshLockoutOrder` for a job on the pump's worker (delivery follows the job).
    func refreshLockoutOrder(_ serial: String, hasOpenChanges: Bool) async {
        await refreshLockoutOrder(serial, slot: slot(serial), fanOut: (hasOpenChanges, ()))
    }

    // MARK: Helpers

    private nonisolated func view(_ lockout: Lockout, detailed: Bool) async throws(ChangeAPIError) -> LockoutView {
        guard detailed, lockout.scope.locksPumps else {
            return LockoutView(lockout: lockout, pumps: [], detailed: detailed)
        }
        let lockouts = try requireLockouts()
        let acknowledged: [String: Int64]
        do {
            acknowledged = try await lockouts.acknowledgements(of: lockout.id)
        } catch {
            throw Self.apiError(error)
        }
        let covered = await coveredSerials(lockout.scope, in: lockouts)
        let live = await liveLockoutState(covered)
        let pumps = covered.map { serial in
            LockoutPumpStatus(
                serial: serial,
                connected: live[serial]?.connected ?? false,
                acknowledgedAt: acknowledged[serial],
                lastSentAt: live[serial]?.sentAt
            )
        }
        return LockoutView(lockout: lockout, pumps: pumps, detailed: true)
    }

    private func liveLockoutState(_ serials: [String]) -> [String: (connected: Bool, sentAt: Int64?)] {
        var found: [String: (connected: Bool, sentAt: Int64?)] = [:]
        for serial in serials {
            guard let slot = pumps[serial] else { continue }
            found[serial] = (slot.delivery.session != nil, slot.lockoutSentAt)
        }
        return found
    }

    private nonisolated func liftStep(
        _ id: LockoutID,
        user: AuthenticatedUser,
        operation: String,
        _ body: @Sendable (LockoutStore, AuditActor, Int64) async throws -> Lockout
    ) async throws(ChangeAPIError) -> Lockout {
        let lockouts = try requireLockouts()
        do {
            return try await body(
                lockouts,
                try AuditActor(id: user.account.id, role: user.actor.role.rawValue),
                clock().millisecondsSinceEpoch
            )
        } catch let error as LockoutError where error.code == .samePerson {
            throw await denied(
                user,
                operation: operation,
                target: id.rawValue,
                serial: "",
                reason: error.code.rawValue,
                message: error.reason
            )
        } catch let error as LockoutError {
            throw Self.apiError(error)
        } catch {
            throw .internal(error)
        }
    }

    private nonisolated func existingLockout(_ id: String) async throws(ChangeAPIError) -> Lockout {
        let lockouts = try requireLockouts()
        try await refreshShared(lockouts)
        guard let parsed = LockoutID(id), let found = await lockouts.lockout(parsed) else {
            throw .notFound("lockout_not_found", "no lockout '\(id.prefix(80))'; GET /v1/lockouts lists them")
        }
        return found
    }

    /// On a shared database, the lockouts as every node wrote them, not as last notified.
    private nonisolated func refreshShared(_ lockouts: LockoutStore) async throws(ChangeAPIError) {
        guard lockouts.isShared else { return }
        do {
            try await lockouts.refresh()
        } catch {
            throw Self.apiError(error)
        }
    }

    private nonisolated func requireLockouts() throws(ChangeAPIError) -> LockoutStore {
        guard let lockouts else {
            throw ChangeAPIError(status: 503, reason: "unavailable", message: "this gateway runs without lockouts")
        }
        return lockouts
    }

    private nonisolated func requireIncident(
        _ user: AuthenticatedUser,
        operation: String,
        target: String
    ) async throws(ChangeAPIError) {
        guard user.actor.role == .incident else {
            throw await denied(
                user,
                operation: operation,
                target: target,
                serial: "",
                message: "only incident staff may start or lift lockouts; \(user.account.id) is a \(user.actor.role)"
            )
        }
    }

    private nonisolated func requireReviewer(
        _ user: AuthenticatedUser,
        operation: String,
        target: String
    ) async throws(ChangeAPIError) {
        let reviewers: Set<ActorRole> = [.incident, .operator, .admin]
        guard reviewers.contains(user.actor.role) else {
            throw await denied(
                user,
                operation: operation,
                target: target,
                serial: "",
                message: "lockouts are for incident staff, operators and admins; \(user.account.id) is a "
                    + "\(user.actor.role)"
            )
        }
    }

    static func apiError(_ error: LockoutError) -> ChangeAPIError {
        let status: Int
        switch error.code {
        case .unknownScope, .emptyReason: status = 400
        case .notFound: status = 404
        case .samePerson: status = 403
        case .alreadyLifted, .liftAlreadyRequested, .liftNotRequested: status = 409
        default: status = 503
        }
        return ChangeAPIError(status: status, reason: error.code.rawValue, message: error.reason)
    }

    static let strictDecoder = JSONDecoder()

    static func rejectUnknownFields(_ body: Data, allowed: Set<String>) throws(ChangeAPIError) {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else { return }
        if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw .badRequest(
                "unknown_field",
                "lockout.\(unknown): unknown field; the fields are \(allowed.sorted().joined(separator: ", "))"
            )
        }
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing field \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context): "wrong type at \(context.codingPath.map(\.stringValue))"
        case DecodingError.dataCorrupted: "not JSON"
        default: "\(error)"
        }
    }
}
