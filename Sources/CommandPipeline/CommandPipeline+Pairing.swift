import AccessTokens
import AuditLog
public import ChangeRequests
import CommandAuthority
public import Foundation
import SafetyPolicy
import TherapyModel
public import TunnelProtocol

/// Pairing: a patient binds a pump to themself with the code the pump shows (docs/pairing.md).
///
/// | route                  | method         |
/// |------------------------|----------------|
/// | `POST /v1/pairings`    | `pair`         |
///
/// `pair` checks, each refusal with its own reason: the caller is a patient (403
/// `not_authorized`, before the code is looked at, so no one else learns anything of it); the
/// code parses (400 `pairing_code_invalid`); the gateway holds a certificate for the pump it
/// names and the signature verifies with it (400 `pairing_code_unverified`); the pump is not
/// revoked (409 `pump_revoked`); the code has not expired by the gateway's clock (410
/// `pairing_code_expired`); the pump offered this nonce and expiry through its own tunnel (409
/// `pairing_code_not_offered`); the nonce was never used (409 `pairing_code_used`); the pump is
/// not paired (409 `pump_already_paired`). Then the binding is audited (`pump.paired`) and stored.
extension CommandPipeline {
    // MARK: Offers (from the pump's session)

    /// The pump of `link` shows a pairing code with this nonce and expiry.
    public nonisolated func pairingOffer(_ offer: InnerMessage.PairingOffer, on link: PumpLink) {
        let now = clock()
        pairingOffers.withLock { $0.record(offer, serial: link.serial, now: now) }
        // Several nodes: the patient's pairing may be posted to another one.
        guard store.databaseHealth != nil, offer.expiresAtMilliseconds > now.millisecondsSinceEpoch else { return }
        let (store, logger, serial) = (self.store, self.logger, link.serial)
        Task {
            do {
                try await store.shareOffer(
                    serial: serial,
                    nonce: offer.nonce,
                    expiresAt: Timestamp(millisecondsSinceEpoch: offer.expiresAtMilliseconds),
                    now: now
                )
            } catch {
                logger.warning(
                    "could not share the pump's pairing offer; pair it through this node",
                    metadata: ["device": "\(serial)", "error": "\(error)"]
                )
            }
        }
    }

    /// Whether the pump offered `code`: to this node, or (several nodes) to the one holding its
    /// session.
    nonisolated func isOffered(_ code: PairingCode) async throws(ChangeAPIError) -> Bool {
        if pairingOffers.withLock({ $0.isOffered(code) }) { return true }
        do {
            return try await store.isOfferShared(serial: code.serial, nonce: code.nonce, expiresAt: code.expiresAt)
        } catch {
            throw .store(error as? ChangeRequestError ?? ChangeRequestError(.storageFailure, "\(error)"))
        }
    }

    // MARK: Pairing

    /// `POST /v1/pairings` with `{"code": "<the scanned text>"}`.
    public nonisolated func pair(body: Data, authorization: String?) async throws(ChangeAPIError) -> PumpBinding {
        let user = try await authenticate(authorization)
        guard user.actor.role == .patient, user.actor.patientIDs.count == 1, let patient = user.actor.patientIDs.first
        else {
            throw await denied(
                user,
                operation: "pair",
                target: "pairing",
                serial: nil,
                message:
                    "only a patient pairs a pump, with the code it shows; \(user.account.id) is a \(user.actor.role)"
            )
        }
        let signed = try Self.pairingCode(in: body)
        let code: PairingCode
        do {
            code = try PairingCodeVerifier(try pumpKeys.verifier(for: signed.content.serial)).verify(signed)
        } catch {
            throw .badRequest(
                "pairing_code_unverified",
                "the pairing code does not verify with a pump certificate of this gateway; scan the code the pump "
                    + "shows now, or ask its clinic to enroll the pump"
            )
        }
        let serial = code.serial
        guard !pumpKeys.isRevoked(serial) else {
            throw .conflict("pump_revoked", "pump \(serial) is revoked and cannot be paired; ask its clinic")
        }
        let now = clock()
        guard code.expiresAt > now else {
            throw ChangeAPIError(
                status: 410,
                reason: "pairing_code_expired",
                message: "the pairing code of pump \(serial) has expired; the pump shows a new one when it restarts"
            )
        }
        guard try await isOffered(code) else {
            throw .conflict(
                "pairing_code_not_offered",
                "pump \(serial) has not offered this code through its own connection; keep the pump connected (near "
                    + "the phone) and scan the code it shows now"
            )
        }
        let phones = user.account.attributes.phoneIDs
        let nonceHash = PairingCodeVerifier.nonceHash(of: code)
        return try await perform(on: serial) {
            do {
                let binding = try await self.store.pair(
                    serial: serial,
                    patientID: patient,
                    phoneID: phones.count == 1 ? phones.first : nil,
                    nonceHash: nonceHash,
                    by: ChangeActor(user.actor),
                    now: now
                )
                // A lockout of the patient covers the pump from now on.
                await self.refreshLockoutOrder(of: serial)
                self.logger.info(
                    "pump paired",
                    metadata: [
                        "device": "\(serial)", "account": "\(user.account.id)", "audit": "\(binding.auditIndex)",
                    ]
                )
                return binding
            } catch let error as ChangeRequestError where error.code == .pairingCodeUsed {
                throw ChangeAPIError.conflict("pairing_code_used", error.reason)
            } catch let error as ChangeRequestError where error.code == .pumpAlreadyPaired {
                throw ChangeAPIError.conflict("pump_already_paired", error.reason)
            }
        }
    }

    /// Records the pump's patient (its new binding) for lockouts by patient.
    func refreshLockoutOrder(of serial: String) async {
        await refreshLockoutOrder(serial, slot: slot(serial))
    }

    /// The patient `serial` is bound to by pairing; nil when it is not paired. The one answer to
    /// "whose pump is this" for every route that authorizes by patient.
    public nonisolated func pumpPatient(_ serial: String) async throws(ChangeAPIError) -> String? {
        do {
            return try await store.binding(for: serial)?.patientID
        } catch {
            throw .internal(error)
        }
    }

    // MARK: Therapy gate

    /// Before a clinician sets `serial`'s therapy: the pump exists here (404 `unknown_pump`), it
    /// is paired (409 `pump_not_paired`), the clinician acts for its patient (403, without naming
    /// the patient) and the prescription is for that patient (409 `patient_mismatch`).
    func requirePairedPump(
        _ serial: String,
        for user: AuthenticatedUser,
        prescriptionPatient: String,
        operation: String
    ) async throws -> PumpBinding {
        guard let binding = try await store.binding(for: serial) else {
            guard isKnownPump(serial) else { throw Self.neverSeen(serial) }
            throw ChangeAPIError.conflict(
                "pump_not_paired",
                "pump \(serial) is not paired to a patient; the patient pairs it with the code it shows (POST "
                    + "/v1/pairings) before its therapy can be set"
            )
        }
        guard user.actor.patientIDs.contains(binding.patientID) else {
            throw await denied(
                user,
                operation: operation,
                target: serial,
                serial: serial,
                message: "\(user.account.id) is not a clinician of the patient pump \(serial) is paired to"
            )
        }
        guard prescriptionPatient == binding.patientID else {
            throw ChangeAPIError.conflict(
                "patient_mismatch",
                "the prescription names patient \(prescriptionPatient), but pump \(serial) is paired to another of "
                    + "your patients; write the prescription for the pump's patient"
            )
        }
        return binding
    }

    /// Before a change is decided: the pump is paired (409 `pump_not_paired`) and its therapy was
    /// set for the patient it is paired to now (409 `patient_mismatch` after a transfer, until a
    /// clinician of the new patient sets it), so authorizing by the prescription's patient is
    /// authorizing by the binding.
    func requireTherapyOfPairedPatient(_ serial: String, therapy: PumpTherapy) async throws {
        guard let binding = try await store.binding(for: serial) else {
            throw ChangeAPIError.conflict(
                "pump_not_paired",
                "pump \(serial) is not paired to a patient; changes wait until its patient pairs it (POST /v1/pairings)"
            )
        }
        guard binding.patientID == therapy.prescription.patientID else {
            throw ChangeAPIError.conflict(
                "patient_mismatch",
                "pump \(serial) changed hands since its prescription was set; a clinician of its patient sets it again"
            )
        }
    }

    /// Whether the gateway has ever heard of `serial`: a certificate of its PKI, a session, a
    /// binding or a therapy.
    func isKnownPump(_ serial: String) -> Bool {
        (try? pumpKeys.verifier(for: serial)) != nil || pumps[serial]?.lastAppliedSequence != nil
    }

    static func neverSeen(_ serial: String) -> ChangeAPIError {
        .notFound(
            "unknown_pump",
            "no pump \(serial.prefix(64)) is known to this gateway (no certificate, never connected); check the serial"
        )
    }

    /// The code in `{"code": "…"}`, parsed (not verified).
    static func pairingCode(in body: Data) throws(ChangeAPIError) -> SignedPairingCode {
        let invalid = ChangeAPIError.badRequest(
            "pairing_code_invalid",
            "the body must be {\"code\": \"MTPAIR1.…\"} with the text of the pump's QR code, unchanged; scan it again"
        )
        guard body.count <= 4096,
            let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
            object.count == 1, let text = object["code"] as? String
        else { throw invalid }
        do {
            return try SignedPairingCode(text: text)
        } catch {
            throw invalid
        }
    }
}
