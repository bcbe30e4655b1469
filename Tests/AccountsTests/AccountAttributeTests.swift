import Accounts
import SafetyPolicy
import Testing
import TherapyModel

@Suite("account attributes and ids")
struct AccountAttributeTests {
    func attributes(_ texts: [String], _ role: ActorRole) throws -> AccountAttributes {
        try AccountAttributes(texts.map { try AccountAttribute(parsing: $0) }, for: role)
    }

    @Test("KEY=VALUE parses; malformed, unknown keys, bad values and unknown controls are refused by name")
    func parsing() throws {
        let attribute = try AccountAttribute(parsing: "phone=PHONE-1")
        #expect(attribute.key == .phone && attribute.value == "PHONE-1")
        for (text, code) in [
            ("patient", AccountError.Code.malformedAttribute), ("patient=", .malformedAttribute),
            ("phone=PHONE 1", .malformedAttribute), ("colour=blue", .unknownAttribute), ("=x", .unknownAttribute),
            ("control=fly", .malformedAttribute),
        ] {
            let error = #expect(throws: AccountError.self) { try AccountAttribute(parsing: text) }
            #expect(error?.code == code, "\(text)")
            #expect(error?.reason.contains("'\(text)'") == true, "\(error?.reason ?? "")")
        }
    }

    @Test("pump= is retired: refused as retired_attribute with a pointer to pairing")
    func pumpAttributeRetired() {
        let error = #expect(throws: AccountError.self) { try AccountAttribute(parsing: "pump=PUMP-0001") }
        #expect(error?.code == .retiredAttribute)
        #expect(error?.reason.contains("pairing") == true)
    }

    @Test("each role carries only its attributes: a patient needs exactly one patient=, admins none")
    func roleRules() throws {
        let patient = try attributes(["patient=p1", "phone=PHONE-1", "control=bolus"], .patient)
        #expect(patient.patientIDs == ["p1"] && patient.phoneIDs == ["PHONE-1"])
        #expect(patient.controlRestriction == ControlSet([.bolus]))
        #expect(try attributes(["patient=p1", "patient=p2"], .clinician).patientIDs == ["p1", "p2"])

        let cases: [([String], ActorRole, AccountError.Code)] = [
            (["phone=PHONE-1"], .patient, .missingAttribute),
            (["patient=p1", "patient=p2"], .patient, .attributeNotAllowed),
            ([], .clinician, .missingAttribute),
            ([], .caregiver, .missingAttribute),
            (["patient=p1", "phone=PHONE-1"], .clinician, .attributeNotAllowed),
            (["patient=p1", "phone=PHONE-1"], .caregiver, .attributeNotAllowed),
            (["patient=p1"], .admin, .attributeNotAllowed),
            (["patient=p1"], .operator, .attributeNotAllowed),
            (["patient=p1", "control=set_max_bolus"], .caregiver, .attributeNotAllowed),
            (["patient=p1", "control=bolus"], .clinician, .attributeNotAllowed),
        ]
        for (texts, role, code) in cases {
            let error = #expect(throws: AccountError.self) { try attributes(texts, role) }
            #expect(error?.code == code, "\(texts) as \(role)")
        }
        #expect(try attributes([], .admin).all.isEmpty)
    }

    @Test("user ids and role names are checked with the allowed values named")
    func idsAndRoles() throws {
        try Account.validateID("dr.who@clinic-1")
        for bad in ["", "has space", "slash/", String(repeating: "a", count: 65)] {
            #expect(throws: AccountError(.invalidUserID, "")) { try Account.validateID(bad) }
        }
        #expect(try Account.role(named: "clinician") == .clinician)
        let error = #expect(throws: AccountError.self) { try Account.role(named: "doctor") }
        #expect(error?.code == .unknownRole)
        #expect(error?.reason.contains("patient, caregiver, clinician") == true)
    }
}
