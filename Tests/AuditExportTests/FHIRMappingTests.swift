import AuditExport
import AuditLog
import Foundation
import Testing

/// Every kind maps to an R4 AuditEvent with the BALP shape; codes, actions and outcomes that
/// matter to a reader of the export are the expected ones.
@Suite("FHIR AuditEvent mapping")
struct FHIRMappingTests {
    static func resource(_ kind: AuditKind, index: UInt64 = 0) throws -> [String: Any] {
        let mapping = FHIRAuditEventMapping(origin: "medtunnel.local/audit")
        let bytes = mapping.resource(ExportFixtures.exported(kind, index: index))
        return try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    @Test(
        "every kind gives an AuditEvent with type, recorded, action, outcome, agent, source and the entry",
        arguments: ExportFixtures.allKinds
    )
    func everyKind(_ kind: AuditKind) throws {
        let r = try Self.resource(kind, index: 42)
        #expect(r["resourceType"] as? String == "AuditEvent")
        #expect(r["id"] as? String == "medtunnel-42")
        let type = try #require(r["type"] as? [String: Any])
        #expect((type["system"] as? String)?.isEmpty == false && (type["code"] as? String)?.isEmpty == false)
        let subtypes = try #require(r["subtype"] as? [[String: Any]])
        #expect(
            subtypes.contains {
                $0["system"] as? String == "urn:medtunnel:audit-kind" && $0["code"] as? String == kind.rawValue
            }
        )
        #expect(["C", "R", "U", "D", "E"].contains(r["action"] as? String ?? ""))
        #expect(["0", "4", "8", "12"].contains(r["outcome"] as? String ?? ""))
        #expect((r["recorded"] as? String)?.hasSuffix("Z") == true)
        let agent = try #require((r["agent"] as? [[String: Any]])?.first)
        let who = try #require(agent["who"] as? [String: Any])
        let identifier = try #require(who["identifier"] as? [String: String])
        #expect(identifier["system"] == "urn:medtunnel:user")
        #expect(identifier["value"] == ExportFixtures.actor(for: kind).id)
        let person = ["patient", "clinician", "operator"].contains(ExportFixtures.actor(for: kind).role)
        #expect(agent["requestor"] as? Bool == person)
        let source = try #require(r["source"] as? [String: Any])
        let observer = try #require(source["observer"] as? [String: Any])
        #expect((observer["identifier"] as? [String: String])?["value"] == "medtunnel.local/audit")
        let entities = try #require(r["entity"] as? [[String: Any]])
        let entry = try #require(entities.first { Self.system(of: $0) == "urn:medtunnel:audit-entry" })
        let details = try #require(entry["detail"] as? [[String: Any]])
        let leaf = details.first { $0["type"] as? String == "leafHash" }?["valueString"] as? String
        #expect(leaf == ExportFixtures.exported(kind, index: 42).leafHashHex)
        #expect(
            entities.contains { Self.system(of: $0) == "urn:medtunnel:pump" }
                == (ExportFixtures.event(kind, offset: 0).pumpSerial != nil)
        )
    }

    @Test("refusals, rejections and security events are not successes; a plain change is")
    func outcomes() throws {
        #expect(try Self.resource(.accessDenied)["outcome"] as? String == "4")
        #expect(try Self.resource(.changeRejected)["outcome"] as? String == "4")
        #expect(try Self.resource(.securityEvent)["outcome"] as? String == "8")
        #expect(try Self.resource(.commandExpired)["outcome"] as? String == "8")
        // change.decided's payload says "decision": "rejected".
        let decided = try Self.resource(.changeDecided)
        #expect(decided["outcome"] as? String == "4")
        #expect(decided["outcomeDesc"] as? String == "Safety policy decided a change: minor failure")
        let requested = try Self.resource(.changeRequested)
        #expect(requested["outcome"] as? String == "0" && requested["outcomeDesc"] == nil)
    }

    @Test("standard codes: REST create for a change request, DICOM login, audit log used, emergency override")
    func standardCodes() throws {
        func codes(_ kind: AuditKind) throws -> [String] {
            let r = try Self.resource(kind)
            let type = try #require(r["type"] as? [String: Any])
            let subtypes = try #require(r["subtype"] as? [[String: Any]]).map { "\($0["code"] ?? "")" }
            return ["\(type["code"] ?? "")", "\(r["action"] ?? "")"] + subtypes
        }
        #expect(try codes(.changeRequested) == ["rest", "C", "create", "change.requested"])
        #expect(try codes(.accessRead) == ["rest", "R", "read", "access.read"])
        #expect(try codes(.login) == ["110114", "E", "110122", "auth.login"])
        #expect(try codes(.export) == ["110101", "R", "audit.export"])
        #expect(try codes(.lockoutStarted) == ["110113", "E", "110127", "lockout.started"])
        #expect(try codes(.pumpUnpaired) == ["rest", "D", "delete", "pump.unpaired"])
        // No standard code: the MedTunnel kind is the type.
        let sent = try Self.resource(.commandSent)["type"] as! [String: Any]
        #expect(sent["system"] as? String == "urn:medtunnel:audit-kind" && sent["code"] as? String == "command.sent")
    }

    @Test("the patient named in a payload is a Patient entity with role 1; none is invented otherwise")
    func patientEntity() throws {
        for kind in [AuditKind.pumpPaired, .pumpTherapySet, .lockoutStarted] {
            let entities = try #require(try Self.resource(kind)["entity"] as? [[String: Any]])
            let patient = try #require(entities.first { Self.system(of: $0) == "urn:medtunnel:patient" }, "\(kind)")
            #expect((patient["what"] as? [String: Any])?["type"] as? String == "Patient")
            #expect(Self.value(of: patient) == "patient-001")
            #expect((patient["role"] as? [String: String])?["code"] == "1")
            #expect((patient["type"] as? [String: String])?["code"] == "1")
        }
        let none = try #require(try Self.resource(.commandSent)["entity"] as? [[String: Any]])
        #expect(!none.contains { Self.system(of: $0) == "urn:medtunnel:patient" })
    }

    @Test("an unknown but well-formed kind still maps, under its own code")
    func unknownKind() throws {
        let r = try Self.resource(try AuditKind("future.thing"))
        #expect((r["type"] as? [String: Any])?["code"] as? String == "future.thing")
        #expect(r["action"] as? String == "E" && r["outcome"] as? String == "0")
    }

    static func system(of entity: [String: Any]) -> String? {
        ((entity["what"] as? [String: Any])?["identifier"] as? [String: String])?["system"]
    }

    static func value(of entity: [String: Any]) -> String? {
        ((entity["what"] as? [String: Any])?["identifier"] as? [String: String])?["value"]
    }
}
