public import Foundation
import TherapyJSON
import TherapyModel

/// The JSON the operator API answers with for change requests and pump therapy. Times are
/// ISO 8601 UTC with milliseconds; doses stay integer milliunits inside the change.
///
/// ```
/// {"id": "chg_…", "pumpSerial": "PUMP-0001", "requester": "alice", "requesterRole": "patient",
///  "state": "queued", "change": {"kind": "bolus", "milliunits": 2000},
///  "decision": {"decision": "accept", "reasons": []}, "requestAuditIndex": 12,
///  "createdAt": "…", "updatedAt": "…", "expiresAt": "…", "sequence": null,
///  "history": [{"from": null, "to": "accepted", "at": "…", "actor": "alice", "actorRole": "patient",
///               "auditIndex": 12}, …]}
/// ```
/// `refusalCode`, `approver`, `integrityProblem` appear when set.
public enum ChangeRequestJSON {
    public static func encode(_ request: ChangeRequest) -> Data {
        object(request).data
    }

    /// `{"changes": [...]}`.
    public static func encode(_ requests: [ChangeRequest]) -> Data {
        JSONOutput.object([("changes", .array(requests.map(object)))]).data
    }

    /// `{"pumpSerial", "version", "prescription", "model", "settings", "setBy", "setByRole", "setAt",
    /// "auditIndex"}` (`settings` null when none were given).
    public static func encode(_ therapy: PumpTherapy) -> Data {
        JSONOutput.object([
            ("settings", therapy.settings.map { .canonical(TherapyJSON.encode($0)) } ?? .null),
            ("pumpSerial", .string(therapy.pumpSerial)),
            ("version", .int(therapy.version)),
            ("prescription", .canonical(TherapyJSON.encode(therapy.prescription))),
            ("model", .canonical(TherapyJSON.encode(therapy.model))),
            ("setBy", .string(therapy.setBy.id)),
            ("setByRole", .string(therapy.setBy.role)),
            ("setAt", time(therapy.setAt)),
            ("auditIndex", .int(Int64(clamping: therapy.auditIndex))),
        ]).data
    }

    private static func object(_ request: ChangeRequest) -> JSONOutput {
        var members: [(String, JSONOutput)] = [
            ("id", .string(request.id.rawValue)),
            ("pumpSerial", .string(request.pumpSerial)),
            ("requester", .string(request.requesterID)),
            ("requesterRole", .string(request.requesterRole)),
            ("state", .string(request.state.name)),
            // Stored as TherapyJSON's canonical text, checked when the request was loaded.
            ("change", .canonical(Data(request.changeJSON.utf8))),
            (
                "decision",
                .object([
                    ("decision", .string(request.decision.outcome.rawValue)),
                    (
                        "reasons",
                        .array(
                            request.decision.reasons.map {
                                .object([("code", .string($0.code)), ("message", .string($0.message))])
                            }
                        )
                    ),
                ])
            ),
            ("requestAuditIndex", .int(Int64(clamping: request.requestAuditIndex))),
            ("createdAt", time(request.createdAt)),
            ("updatedAt", time(request.updatedAt)),
            ("expiresAt", request.expiresAt.map(time) ?? .null),
            ("sequence", request.sequence.map { .int(Int64(clamping: $0)) } ?? .null),
            (
                "history",
                .array(
                    request.history.map { step in
                        var members: [(String, JSONOutput)] = [
                            ("from", step.from.map { .string($0.name) } ?? .null),
                            ("to", .string(step.to.name)),
                            ("at", time(step.at)),
                            ("actor", .string(step.actor.id)),
                            ("actorRole", .string(step.actor.role)),
                            ("auditIndex", .int(Int64(clamping: step.auditIndex))),
                        ]
                        if let note = step.note { members.append(("note", .string(note))) }
                        return .object(members)
                    }
                )
            ),
        ]
        if let code = request.state.refusalCode { members.append(("refusalCode", .string(code))) }
        if let approver = request.approverID { members.append(("approver", .string(approver))) }
        if let problem = request.integrityProblem { members.append(("integrityProblem", .string(problem))) }
        return .object(members)
    }

    private static func time(_ timestamp: Timestamp) -> JSONOutput {
        .string(ISO8601Time.format(timestamp))
    }
}
