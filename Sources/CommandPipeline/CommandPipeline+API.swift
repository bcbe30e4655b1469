import AccessTokens
import AuditLog
public import ChangeRequests
public import Foundation
import Lockouts
public import SafetyPolicy
import TherapyJSON
public import TherapyModel
import TunnelProtocol

/// The operations behind the operator API's change routes, free of any HTTP framework: each
/// takes the request's parts (path values, `Authorization` header, body) and returns a value or
/// throws a ``ChangeAPIError`` carrying the status and reason to answer with.
///
/// | route                                   | method                 |
/// |-----------------------------------------|------------------------|
/// | `POST /v1/pumps/{serial}/changes`       | `submitChange`         |
/// | `GET /v1/changes/{id}`                  | `change`               |
/// | `POST /v1/changes/{id}/approve`         | `approveChange`        |
/// | `POST /v1/changes/{id}/cancel`          | `cancelChange`         |
/// | `GET /v1/pumps/{serial}/changes`        | `changes(forPump:)`    |
/// | `PUT /v1/pumps/{serial}/prescription`   | `setTherapy`           |
///
/// Therapy and changes exist only for pumps paired to a patient (`CommandPipeline+Pairing.swift`):
/// the binding, not the prescription, says whose pump it is.
///
/// Operations that change something run on the pump's worker, in order with its sessions.
/// Reading is allowed to the requester, to anyone linked to the pump's patient, and to
/// operators, incident staff and admins (who review the service); cancelling to the requester
/// and to patients, caregivers and clinicians of the pump's patient.
extension CommandPipeline {
    /// A submitted change: the request as recorded (new, or the one this idempotency key made).
    public struct SubmittedChange: Sendable, Hashable {
        public let request: ChangeRequest
        /// false when the same requester sent the same key and body before (nothing new).
        public let created: Bool

        /// 201 accepted, 202 held for approval, 422 rejected by the policy (recorded all the same).
        public var status: Int {
            switch request.decision.outcome {
            case .accept: 201
            case .needsApproval: 202
            case .reject: 422
            }
        }

        /// `ChangeRequestJSON` of the request: id, state, decision with reasons, history.
        public var body: Data { ChangeRequestJSON.encode(request) }
    }

    // MARK: Changes

    /// Authenticates, authorizes, asks the policy, records (audit first) and queues a change;
    /// the pump's worker delivers it when the pump is connected. `idempotencyKey` is the
    /// `Idempotency-Key` header (required); `body` a `SettingChange` in JSON.
    public nonisolated func submitChange(
        serial: String,
        idempotencyKey: String?,
        body: Data,
        authorization: String?
    ) async throws(ChangeAPIError) -> SubmittedChange {
        let user = try await authenticate(authorization)
        try Self.checkSerial(serial)
        guard let idempotencyKey, !idempotencyKey.isEmpty else {
            throw .badRequest(
                "idempotency_key_missing",
                "no Idempotency-Key header; send a unique key per change (a retry sends the same key)"
            )
        }
        do {
            try ChangeRequestStore.checkIdempotencyKey(idempotencyKey)
        } catch {
            throw .internal(error)
        }
        let change: SettingChange
        do {
            change = try TherapyJSON.change(from: body)
        } catch {
            throw .json(error, in: "change")
        }
        return try await perform(on: serial) {
            try await self.recordSubmission(serial: serial, key: idempotencyKey, change: change, user: user)
        }
    }

    /// The change request `id` with its state and history (each step with its audit index).
    public nonisolated func change(_ id: String, authorization: String?) async throws(ChangeAPIError) -> ChangeRequest {
        let user = try await authenticate(authorization)
        let request = try await existingRequest(id)
        let patient = try await pumpPatient(request.pumpSerial)
        guard Self.mayRead(user, requesterID: request.requesterID, patientID: patient) else {
            throw await denied(user, operation: "read_change", target: id, serial: request.pumpSerial)
        }
        return request
    }

    /// A second clinician approves a change held for approval (never its requester:
    /// `ApprovalPolicy`). The policy decides again on today's context first: a change that has
    /// meanwhile moved outside an absolute limit is refused (422 with the policy's code).
    public nonisolated func approveChange(
        _ id: String,
        authorization: String?
    ) async throws(ChangeAPIError) -> ChangeRequest {
        try await onPumpOfRequest(id, authorization: authorization) { id, user in
            try await self.recordApproval(id, user: user)
        }
    }

    /// Cancels a change not yet sent; a sent command is refused (409 `illegal_transition`).
    public nonisolated func cancelChange(
        _ id: String,
        authorization: String?
    ) async throws(ChangeAPIError) -> ChangeRequest {
        try await onPumpOfRequest(id, authorization: authorization) { id, user in
            try await self.recordCancellation(id, user: user)
        }
    }

    /// The pump's change requests, newest first.
    public nonisolated func changes(
        forPump serial: String,
        authorization: String?,
        limit: Int = 100
    ) async throws(ChangeAPIError) -> [ChangeRequest] {
        let user = try await authenticate(authorization)
        try Self.checkSerial(serial)
        let patient = try await pumpPatient(serial)
        guard Self.mayRead(user, requesterID: nil, patientID: patient) else {
            throw await denied(user, operation: "list_changes", target: serial, serial: serial)
        }
        do {
            return try await store.requests(forPump: serial, limit: min(max(limit, 1), 1000))
        } catch {
            throw .internal(error)
        }
    }

    // MARK: Therapy

    /// A clinician of the pump's patient (its pairing binding) sets the pump's prescription,
    /// model and current settings (`TherapyDocument`), audited (`pump.therapy.set`) before it is
    /// stored. The pump must be known (404 `unknown_pump`) and paired (409 `pump_not_paired`),
    /// the clinician one of its patient's (403, never naming the patient) and the prescription
    /// for that patient (409 `patient_mismatch`).
    /// If the pump has reported its settings, the given ones must match them (409
    /// `settings_mismatch`); setting the therapy clears a settings hold.
    public nonisolated func setTherapy(
        serial: String,
        body: Data,
        authorization: String?
    ) async throws(ChangeAPIError) -> PumpTherapy {
        let user = try await authenticate(authorization)
        try Self.checkSerial(serial)
        guard user.actor.role == ApprovalPolicy.approverRole else {
            throw await denied(
                user,
                operation: "set_therapy",
                target: serial,
                serial: serial,
                message: "only a clinician of the pump's patient may set its prescription; \(user.account.id) is a "
                    + "\(user.actor.role)"
            )
        }
        let document: TherapyDocument
        do {
            document = try TherapyJSON.therapyDocument(from: body)
        } catch {
            throw .json(error, in: "therapy")
        }
        return try await perform(on: serial) {
            try await self.recordTherapy(serial: serial, document: document, user: user)
        }
    }

    // MARK: On the pump's worker

    private func recordSubmission(
        serial: String,
        key: String,
        change: SettingChange,
        user: AuthenticatedUser
    ) async throws -> SubmittedChange {
        let now = clock()
        let therapy = try await requireTherapy(serial)
        try await requireTherapyOfPairedPatient(serial, therapy: therapy)
        switch Authorization.controls(for: user.actor, model: therapy.model, prescription: therapy.prescription) {
        case .notAuthenticated, .notAuthorized:
            throw await denied(
                user,
                operation: "submit_change",
                target: serial,
                serial: serial,
                message: "\(user.account.id) (\(user.actor.role)) is authenticated but not authorized for any control "
                    + "on pump \(serial); a person acts only on the pumps of the patients they act for"
            )
        case .authorized(let controls) where !controls.contains(change.kind):
            throw await denied(
                user,
                operation: "submit_change",
                target: serial,
                serial: serial,
                reason: PolicyReason.Code.controlNotPermitted.rawValue,
                message: "\(user.account.id) (\(user.actor.role)) may use \(controls) on pump \(serial), not "
                    + "\(change.kind)"
            )
        case .authorized:
            break
        }
        if let existing = try await store.request(requester: user.account.id, idempotencyKey: key) {
            let body = String(decoding: TherapyJSON.encode(change), as: UTF8.self)
            guard existing.pumpSerial == serial, existing.changeJSON == body else {
                throw ChangeAPIError.conflict(
                    ChangeRequestError.Code.idempotencyKeyReused.rawValue,
                    "idempotency key '\(key)' was used for request \(existing.id) with a different body; use a new "
                        + "key for a new change"
                )
            }
            return SubmittedChange(request: existing, created: false)
        }
        let context = try await policyContext(serial, therapy: therapy, now: now)
        let decision = TherapyPolicy.evaluate(change, by: user.actor, context: context)
        let result = try await store.submit(
            ChangeSubmission(
                pumpSerial: serial,
                requester: user.actor,
                idempotencyKey: key,
                change: change,
                decision: decision
            ),
            now: now
        )
        if case .reject(let reasons) = decision {
            reportObservation(
                kind: "policy_rejection",
                pump: serial,
                phone: nil,
                detail: reasons.map(\.code.rawValue).joined(separator: ",")
            )
        }
        if case .created(let request) = result {
            logger.info(
                "change recorded",
                metadata: [
                    "device": "\(serial)", "request": "\(request.id)", "decision": "\(decision.name)",
                    "audit": "\(request.requestAuditIndex)",
                ]
            )
            return SubmittedChange(request: request, created: true)
        }
        return SubmittedChange(request: result.request, created: false)
    }

    private func recordApproval(_ id: ChangeRequestID, user: AuthenticatedUser) async throws -> ChangeRequest {
        let now = clock()
        guard let request = try await store.request(id) else { throw Self.noSuchRequest(id.rawValue) }
        let therapy = try await requireTherapy(request.pumpSerial)
        guard let role = ActorRole(rawValue: request.requesterRole) else {
            throw ChangeAPIError.conflict("requester_unknown", "request \(id) names an unknown role")
        }
        let requester = PolicyActor(
            id: request.requesterID,
            role: role,
            isAuthenticated: true,
            patientIDs: [therapy.prescription.patientID]
        )
        if case .refused(let reasons) = ApprovalPolicy.check(
            approver: user.actor,
            requester: requester,
            prescription: therapy.prescription
        ) {
            throw await denied(
                user,
                operation: "approve_change",
                target: id.rawValue,
                serial: request.pumpSerial,
                reason: reasons[0].code.rawValue,
                message: reasons.map(\.message).joined(separator: "; ")
            )
        }
        // Only after the approver is known to be one of the patient's clinicians: the request's
        // state is nobody else's business.
        guard request.state == .pendingApproval else {
            throw ChangeAPIError.conflict(
                ChangeRequestError.Code.illegalTransition.rawValue,
                "request \(id) is \(request.state); only a change held for approval (pending_approval) can be approved"
            )
        }
        let context = try await policyContext(request.pumpSerial, therapy: therapy, now: now)
        if case .reject(let reasons) = TherapyPolicy.evaluate(request.change, by: requester, context: context) {
            throw ChangeAPIError(
                status: 422,
                reason: reasons[0].code.rawValue,
                message: "request \(id) is now outside an absolute limit and cannot be approved: "
                    + reasons.map(\.message).joined(separator: "; ")
            )
        }
        let approved = try await store.approve(id, by: ChangeActor(user.actor), now: now)
        logger.info("change approved", metadata: ["request": "\(id)", "approver": "\(user.account.id)"])
        return approved
    }

    private func recordCancellation(_ id: ChangeRequestID, user: AuthenticatedUser) async throws -> ChangeRequest {
        guard let request = try await store.request(id) else { throw Self.noSuchRequest(id.rawValue) }
        let patient = try await store.binding(for: request.pumpSerial)?.patientID
        let linked = patient.map { user.actor.patientIDs.contains($0) } ?? false
        let careRoles: Set<ActorRole> = [.patient, .caregiver, .clinician]
        guard request.requesterID == user.account.id || (linked && careRoles.contains(user.actor.role)) else {
            throw await denied(user, operation: "cancel_change", target: id.rawValue, serial: request.pumpSerial)
        }
        return try await store.cancel(id, by: ChangeActor(user.actor), now: clock())
    }

    private func recordTherapy(
        serial: String,
        document: TherapyDocument,
        user: AuthenticatedUser
    ) async throws -> PumpTherapy {
        _ = try await requirePairedPump(
            serial,
            for: user,
            prescriptionPatient: document.prescription.patientID,
            operation: "set_therapy"
        )
        // The pump model (its limits, increments, controls) is the one the CA wrote into the
        // pump's certificate at enrollment, not whatever the body says.
        if let certified = try? pumpKeys.facts(for: serial).model, certified != document.model.name {
            throw ChangeAPIError.conflict(
                "model_mismatch",
                "the therapy's pump model '\(document.model.name.prefix(64))' is not pump \(serial)'s model "
                    + "'\(certified)' (from its certificate); send the model of that pump"
            )
        }
        let slot = self.slot(serial)
        let digest = SettingsDigest.sha256(of: document.settings)
        if let reported = slot.reportedDigest, reported != digest {
            throw ChangeAPIError.conflict(
                "settings_mismatch",
                "the settings given (\(Self.short(digest))) differ from those pump \(serial) reports "
                    + "(\(Self.short(reported))); read the pump's settings and send them unchanged"
            )
        }
        let therapy = try await store.setTherapy(
            serial: serial,
            prescription: document.prescription,
            model: document.model,
            settings: document.settings,
            by: ChangeActor(user.actor),
            now: clock()
        )
        slot.expected = PumpSlot.Expected(version: therapy.version, settings: document.settings)
        slot.divergence = nil
        await refreshLockoutOrder(serial, slot: slot)
        logger.info(
            "pump therapy set",
            metadata: ["device": "\(serial)", "version": "\(therapy.version)", "audit": "\(therapy.auditIndex)"]
        )
        return therapy
    }

    // MARK: Context

    /// What the policy looks at for one pump now.
    private func policyContext(_ serial: String, therapy: PumpTherapy, now: Timestamp) async throws -> PolicyContext {
        let slot = self.slot(serial)
        guard let settings = try await expectedSettings(serial, therapy: therapy, slot: slot) else {
            throw ChangeAPIError.conflict(
                "settings_unknown",
                "pump \(serial)'s current settings were never stated; a clinician sets them with its prescription"
            )
        }
        if let divergence = slot.divergence {
            throw ChangeAPIError.conflict(
                "settings_unverified",
                "pump \(serial) holds other settings than expected (\(divergence)); a clinician sets its therapy "
                    + "again with the settings it holds"
            )
        }
        let since = now.advanced(byMinutes: -TherapyPolicy.dailyWindowMinutes)
        let history = PumpLedger.history(try await store.deliveryRequests(forPump: serial, since: since), now: now)
        var lockout: LockoutState =
            slot.reportedMode.contains(.lockedOut)
            ? .lockedOut(reason: "the pump reports a lockout in force") : .unlocked
        if let lockouts {
            let attributes = PumpAttributes(
                serial: serial,
                patient: therapy.prescription.patientID,
                model: slot.model,
                firmware: slot.firmware
            )
            if case .locked(_, let ids) = await lockouts.order(for: attributes), let first = ids.first,
                let found = await lockouts.lockout(first)
            {
                lockout = .lockedOut(
                    reason: "lockout \(first) (\(found.scope)) is in force: \(found.reason); remote changes wait until "
                        + "two incident staff lift it"
                )
            }
        }
        return PolicyContext(
            settings: settings,
            model: therapy.model,
            prescription: therapy.prescription,
            history: history,
            lockout: lockout,
            now: now,
            pump: await policyReport(serial, slot: slot)
        )
    }

    /// What the pump last reported about itself, as the policy reads it (the API shows it).
    public func reportedState(of serial: String) -> ReportedPumpState {
        reportedState(serial, slot: slot(serial))
    }

    /// Insulin on board now by the pump's prescription (its insulin model) and the gateway's
    /// delivery history; nil for a pump without a prescription.
    public func insulinOnBoard(of serial: String) async -> Milliunits? {
        let now = clock()
        guard let therapy = try? await store.therapy(for: serial),
            let requests = try? await store.deliveryRequests(
                forPump: serial,
                since: now.advanced(byMinutes: -TherapyPolicy.dailyWindowMinutes)
            )
        else { return nil }
        let deliveries = PumpLedger.history(requests, now: now).records.map {
            InsulinDelivery.bolus($0.amount, at: $0.time)
        }
        return therapy.prescription.insulinModel.insulinOnBoard(deliveries, at: now)
    }

    /// What the pump last reported about itself: its telemetry's readings and the mode of its
    /// last hello or acknowledgement.
    func reportedState(_ serial: String, slot: PumpSlot) -> ReportedPumpState {
        let readings = clinicalReadings.withLock { $0[serial] } ?? ClinicalReadings()
        let mode = slot.reportedModeAt.map { ReportedPumpState.Reading(slot.reportedMode.contains(.suspended), at: $0) }
        return readings.state(mode: mode)
    }

    private func requireTherapy(_ serial: String) async throws -> PumpTherapy {
        guard let therapy = try await store.therapy(for: serial) else { throw Self.unknownPump(serial) }
        return therapy
    }

    // MARK: Helpers

    /// Runs `body` on the pump's worker and returns its answer.
    nonisolated func perform<T: Sendable>(
        on serial: String,
        _ body: @escaping @Sendable () async throws -> T
    ) async throws(ChangeAPIError) -> T {
        // The log's database is unreachable: every operation here appends, and the pump's worker
        // may be waiting on the one cut off. Refuse now rather than queue behind it.
        if let problem = await databaseProblem() {
            throw .store(ChangeRequestError(.databaseUnavailable, "nothing changed: \(problem)"))
        }
        let result: Result<T, ChangeAPIError> = await withCheckedContinuation { continuation in
            mailboxes.post(
                .job(
                    PumpJob(
                        run: {
                            do {
                                continuation.resume(returning: .success(try await body()))
                            } catch {
                                continuation.resume(returning: .failure(.internal(error)))
                            }
                        },
                        abandon: { continuation.resume(returning: .failure(.unavailable)) }
                    )
                ),
                to: serial
            )
        }
        return try result.get()
    }

    /// Authenticates, finds request `id` and runs `body` on its pump's worker.
    private nonisolated func onPumpOfRequest(
        _ id: String,
        authorization: String?,
        _ body: @escaping @Sendable (ChangeRequestID, AuthenticatedUser) async throws -> ChangeRequest
    ) async throws(ChangeAPIError) -> ChangeRequest {
        let user = try await authenticate(authorization)
        let request = try await existingRequest(id)
        return try await perform(on: request.pumpSerial) { try await body(request.id, user) }
    }

    nonisolated func authenticate(_ authorization: String?) async throws(ChangeAPIError) -> AuthenticatedUser {
        // On a shared database the accounts and revocations are read there: a node that lost it
        // refuses at once, saying so, instead of after each read's timeout. (Only the stores
        // the node probes in the background are asked first, so that one of them answering
        // again lets requests through.)
        if store.databaseHealth != nil, let problem = await databaseProblem() {
            throw .store(ChangeRequestError(.databaseUnavailable, problem))
        }
        do {
            return try await authenticator.authenticate(authorization: authorization, now: clock())
        } catch {
            if error.code == .unavailable, let problem = await sharedDatabaseProblem() {
                throw .store(ChangeRequestError(.databaseUnavailable, problem))
            }
            throw .unauthenticated(error)
        }
    }

    /// Why the shared database cannot be reached, as any of this node's connections to it last
    /// found; nil while they answer, and always on one gateway's own files.
    nonisolated func sharedDatabaseProblem() async -> String? {
        guard store.databaseHealth != nil else { return nil }
        if let problem = await databaseProblem() { return problem }
        return authenticator.accounts.databaseHealth?.currentProblem
            ?? authenticator.revocations?.databaseHealth?.currentProblem
    }

    private nonisolated func existingRequest(_ id: String) async throws(ChangeAPIError) -> ChangeRequest {
        guard let parsed = ChangeRequestID(id) else { throw Self.noSuchRequest(id) }
        let found: ChangeRequest?
        do {
            found = try await store.request(parsed)
        } catch {
            throw .internal(error)
        }
        guard let found else { throw Self.noSuchRequest(id) }
        return found
    }

    /// Audits a refusal of an authenticated actor (`access.denied`) and returns the 403.
    nonisolated func denied(
        _ user: AuthenticatedUser,
        operation: String,
        target: String,
        serial: String?,
        reason: String = PolicyReason.Code.notAuthorized.rawValue,
        message: String? = nil
    ) async -> ChangeAPIError {
        let message =
            message
            ?? "\(user.account.id) (\(user.actor.role)) is authenticated but not authorized to \(operation) \(target)"
        do {
            let payload = try JSONSerialization.data(
                withJSONObject: [
                    "schema": "medtunnel.access-denied.v1", "operation": operation, "target": target,
                    "reason": reason, "token": user.tokenID,
                ],
                options: [.sortedKeys]
            )
            _ = try await audit.append(
                try AuditEvent(
                    timeMilliseconds: clock().millisecondsSinceEpoch,
                    actor: try AuditActor(id: user.account.id, role: user.actor.role.rawValue),
                    kind: .accessDenied,
                    pumpSerial: serial,
                    payload: Array(payload)
                )
            )
        } catch {
            logger.error("access denial not audited", metadata: ["error": "\(error)"])
        }
        return .forbidden(reason, message)
    }

    static func mayRead(_ user: AuthenticatedUser, requesterID: String?, patientID: String?) -> Bool {
        let reviewers: Set<ActorRole> = [.operator, .incident, .admin]
        return reviewers.contains(user.actor.role) || requesterID == user.account.id
            || patientID.map { user.actor.patientIDs.contains($0) } ?? false
    }

    static func checkSerial(_ serial: String) throws(ChangeAPIError) {
        do {
            try ChangeRequestStore.checkSerial(serial)
        } catch {
            throw .internal(error)
        }
    }

    static func noSuchRequest(_ id: String) -> ChangeAPIError {
        .notFound("not_found", "no change request '\(id.prefix(80))'")
    }

    static func unknownPump(_ serial: String) -> ChangeAPIError {
        .notFound(
            "unknown_pump",
            "pump \(serial) has no prescription; a clinician sets one with PUT /v1/pumps/\(serial)/prescription"
        )
    }
}
