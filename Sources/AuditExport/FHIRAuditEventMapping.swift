import AuditLog
import Foundation
import TherapyJSON

/// One audit entry as a FHIR R4 `AuditEvent` following IHE BALP:
///
/// | AuditEvent element | from the entry |
/// |---|---|
/// | `id` | `medtunnel-<index>` |
/// | `type`, `subtype`, `action` | the kind, by ``AuditKindCoding`` (the kind is always a subtype) |
/// | `recorded` | the entry time (instant, milliseconds, UTC) |
/// | `outcome` / `outcomeDesc` | the kind's outcome, a failure when the payload says refused |
/// | `agent` | the actor: `who` by identifier (`urn:medtunnel:user`), `role` (`urn:medtunnel:role`), `type` human user or application, `requestor` true for people |
/// | `source` | the gateway as observer (`urn:medtunnel:gateway`, the log origin), Application Server |
/// | `entity` Patient | `patientId` / `patient` of the payload; entity type 1 Person, role 1 Patient |
/// | `entity` Device | the pump serial (`urn:medtunnel:pump`) and the phone (`urn:medtunnel:phone`), System Object |
/// | `entity` entry | the log entry (`urn:medtunnel:audit-entry`, the index) with its leaf hash, canonical bytes and payload, so a reader can prove it |
public struct FHIRAuditEventMapping: Sendable {
    /// The log's checkpoint origin, naming the gateway (and the log its checkpoints sign).
    public let origin: String

    public init(origin: String) { self.origin = origin }

    static let people: Set<String> = ["patient", "caregiver", "clinician", "operator", "incident", "admin"]

    public static let userSystem = "urn:medtunnel:user"
    public static let roleSystem = "urn:medtunnel:role"
    public static let patientSystem = "urn:medtunnel:patient"
    public static let pumpSystem = "urn:medtunnel:pump"
    public static let phoneSystem = "urn:medtunnel:phone"
    public static let entrySystem = "urn:medtunnel:audit-entry"
    public static let gatewaySystem = "urn:medtunnel:gateway"

    /// The AuditEvent as JSON bytes (sorted keys: the same entry always gives the same bytes).
    public func resource(_ exported: ExportedEntry) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Every member is a string, a Bool or an enum of strings: encoding cannot fail.
        return Array(try! encoder.encode(self.auditEvent(exported)))
    }

    func auditEvent(_ exported: ExportedEntry) -> FHIRAuditEvent {
        let event = exported.entry.event
        let coding = AuditKindCoding.of(event.kind)
        let outcome = AuditKindCoding.outcome(of: exported)
        let payload = exported.payloadJSON()
        return FHIRAuditEvent(
            id: "medtunnel-\(exported.entry.index)",
            type: coding.type,
            subtype: coding.subtypes(for: event.kind),
            action: coding.action,
            recorded: ISO8601Time.format(milliseconds: event.timeMilliseconds),
            outcome: outcome,
            outcomeDesc: outcome == .success ? nil : "\(coding.label): \(outcome.display.lowercased())",
            agent: [self.agent(event.actor)],
            source: FHIRAuditEvent.Source(
                site: self.origin,
                observer: FHIRReference(
                    type: "Device",
                    identifier: FHIRIdentifier(system: Self.gatewaySystem, value: self.origin),
                    display: "MedTunnel gateway"
                ),
                type: [
                    FHIRCoding(
                        system: "http://terminology.hl7.org/CodeSystem/security-source-type",
                        code: "4",
                        display: "Application Server"
                    )
                ]
            ),
            entity: self.entities(exported, patient: exported.patientID(in: payload))
        )
    }

    func agent(_ actor: AuditActor) -> FHIRAuditEvent.Agent {
        let person = Self.people.contains(actor.role)
        let type =
            person
            ? FHIRCoding(
                system: "http://terminology.hl7.org/CodeSystem/extra-security-role-type",
                code: "humanuser",
                display: "human user"
            )
            : FHIRCoding(system: "http://dicom.nema.org/resources/ontology/DCM", code: "110150", display: "Application")
        return FHIRAuditEvent.Agent(
            type: FHIRCodeableConcept(type),
            role: [FHIRCodeableConcept(FHIRCoding(system: Self.roleSystem, code: actor.role, display: nil))],
            who: FHIRReference(
                type: person ? nil : "Device",
                identifier: FHIRIdentifier(system: Self.userSystem, value: actor.id),
                display: actor.id
            ),
            requestor: person
        )
    }

    func entities(_ exported: ExportedEntry, patient: String?) -> [FHIRAuditEvent.Entity] {
        let event = exported.entry.event
        var out: [FHIRAuditEvent.Entity] = []
        let auditEntityType = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
        let objectRole = "http://terminology.hl7.org/CodeSystem/object-role"
        let systemObject = FHIRCoding(system: auditEntityType, code: "2", display: "System Object")
        if let patient {
            out.append(
                FHIRAuditEvent.Entity(
                    what: FHIRReference(
                        type: "Patient",
                        identifier: FHIRIdentifier(system: Self.patientSystem, value: patient),
                        display: nil
                    ),
                    type: FHIRCoding(system: auditEntityType, code: "1", display: "Person"),
                    role: FHIRCoding(system: objectRole, code: "1", display: "Patient"),
                    description: nil,
                    detail: nil
                )
            )
        }
        for (system, value, description) in [
            (Self.pumpSystem, event.pumpSerial, "insulin pump"), (Self.phoneSystem, event.phoneID, "relaying phone"),
        ] {
            guard let value else { continue }
            out.append(
                FHIRAuditEvent.Entity(
                    what: FHIRReference(
                        type: "Device",
                        identifier: FHIRIdentifier(system: system, value: value),
                        display: nil
                    ),
                    type: systemObject,
                    role: FHIRCoding(system: objectRole, code: "4", display: "Domain Resource"),
                    description: description,
                    detail: nil
                )
            )
        }
        var details = [
            FHIRAuditEvent.Detail(type: "leafHash", valueString: exported.leafHashHex, valueBase64Binary: nil),
            FHIRAuditEvent.Detail(
                type: "canonicalEntry",
                valueString: nil,
                valueBase64Binary: Data(exported.canonical).base64EncodedString()
            ),
        ]
        if !event.payload.isEmpty, let text = String(validating: event.payload, as: UTF8.self) {
            details.append(FHIRAuditEvent.Detail(type: "payload", valueString: text, valueBase64Binary: nil))
        }
        out.append(
            FHIRAuditEvent.Entity(
                what: FHIRReference(
                    type: nil,
                    identifier: FHIRIdentifier(system: Self.entrySystem, value: String(exported.entry.index)),
                    display: "\(self.origin) entry \(exported.entry.index)"
                ),
                type: systemObject,
                role: FHIRCoding(system: objectRole, code: "13", display: "Security Resource"),
                description: "MedTunnel audit log entry: leafHash = SHA-256(0x00 || canonicalEntry), RFC 9162",
                detail: details
            )
        )
        return out
    }
}
