import AccessTokens
public import ChangeRequests
public import Foundation
import SafetyPolicy

/// Unpairing a pump and transferring it to another patient: two people, two requests, in
/// either order — the pump's patient and a clinician of that patient. The first request is
/// recorded (`pump.unpair_requested` / `pump.transfer_requested`) and answered 202 pending; the
/// other party's matching request completes it (`pump.unpaired` / `pump.transferred`, 200).
///
/// | route                                   | method            |
/// |-----------------------------------------|-------------------|
/// | `POST /v1/pumps/{serial}/unpair`        | `requestUnpair`   |
/// | `POST /v1/pumps/{serial}/transfer`      | `requestTransfer` (`{"patientId": "…"}`) |
///
/// Refusals: 409 `pump_not_paired`; 403 `not_authorized` for anyone but the patient and their
/// clinicians (never naming the patient); 409 `second_party_required` when the same side asks
/// twice (a second clinician is not the patient); 400 `invalid_input` for a bad transfer target.
/// A request for another action or target replaces the pending one.
extension CommandPipeline {
    /// What an unpair or transfer request did.
    public struct BindingChangeOutcome: Sendable, Hashable {
        /// `pending` (waits for the other party), `unpaired` or `transferred`.
        public let state: String
        public let pumpSerial: String
        /// The binding after the request (nil once unpaired).
        public let binding: PumpBinding?

        /// 202 while pending, 200 when done.
        public var status: Int { state == "pending" ? 202 : 200 }

        /// `{"pump", "state", "patientId"?}`: the patient is shown to the parties, who know it.
        public var body: Data {
            var object: [String: Any] = ["pump": pumpSerial, "state": state]
            if let binding { object["patientId"] = binding.patientID }
            return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        }
    }

    public nonisolated func requestUnpair(
        serial: String,
        authorization: String?
    ) async throws(ChangeAPIError) -> BindingChangeOutcome {
        let user = try await authenticate(authorization)
        try Self.checkSerial(serial)
        return try await perform(on: serial) { try await self.recordBindingChange(serial, .unpair, user: user) }
    }

    public nonisolated func requestTransfer(
        serial: String,
        body: Data,
        authorization: String?
    ) async throws(ChangeAPIError) -> BindingChangeOutcome {
        let user = try await authenticate(authorization)
        try Self.checkSerial(serial)
        guard body.count <= 4096, let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
            object.count == 1, let target = object["patientId"] as? String, Self.isPatientID(target)
        else {
            throw .badRequest(
                "invalid_input",
                "the body must be {\"patientId\": \"…\"}: the patient to transfer the pump to (1-128 of A-Z a-z 0-9 . _ : @ -)"
            )
        }
        return try await perform(on: serial) {
            try await self.recordBindingChange(serial, .transfer(toPatient: target), user: user)
        }
    }

    private func recordBindingChange(
        _ serial: String,
        _ action: PendingBindingChange.Action,
        user: AuthenticatedUser
    ) async throws -> BindingChangeOutcome {
        guard let binding = try await store.binding(for: serial) else {
            guard isKnownPump(serial) else { throw Self.neverSeen(serial) }
            throw ChangeAPIError.conflict("pump_not_paired", "pump \(serial) is not paired to a patient")
        }
        let sides: Set<ActorRole> = [.patient, .clinician]
        guard sides.contains(user.actor.role), user.actor.patientIDs.contains(binding.patientID) else {
            throw await denied(
                user,
                operation: action == .unpair ? "unpair" : "transfer",
                target: serial,
                serial: serial,
                message:
                    "only the patient pump \(serial) is paired to and a clinician of theirs may unpair or transfer it"
            )
        }
        if case .transfer(let target) = action, target == binding.patientID {
            throw ChangeAPIError.badRequest("invalid_input", "pump \(serial) is paired to that patient already")
        }
        let actor = ChangeActor(user.actor)
        let now = clock()
        if let pending = try await store.pendingBindingChange(for: serial), pending.action == action {
            if pending.requestedBy.role == actor.role {
                guard pending.requestedBy.id == user.account.id else {
                    throw ChangeAPIError.conflict(
                        "second_party_required",
                        "a \(actor.role) asked for this already; the other party (the patient, or a clinician of "
                            + "theirs) confirms it"
                    )
                }
                return BindingChangeOutcome(state: "pending", pumpSerial: serial, binding: binding)
            }
            let after = try await store.completeBindingChange(serial: serial, action, by: actor, now: now)
            // Lockouts by patient follow the binding.
            await refreshLockoutOrder(serial, slot: slot(serial))
            logger.info(
                action == .unpair ? "pump unpaired" : "pump transferred",
                metadata: ["device": "\(serial)", "account": "\(user.account.id)"]
            )
            return BindingChangeOutcome(
                state: action == .unpair ? "unpaired" : "transferred",
                pumpSerial: serial,
                binding: after
            )
        }
        _ = try await store.requestBindingChange(serial: serial, action, by: actor, now: now)
        return BindingChangeOutcome(state: "pending", pumpSerial: serial, binding: binding)
    }

    static func isPatientID(_ text: String) -> Bool {
        (1...128).contains(text.utf8.count)
            && text.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || [0x2E, 0x5F, 0x3A, 0x40, 0x2D].contains(byte)
            }
    }
}
