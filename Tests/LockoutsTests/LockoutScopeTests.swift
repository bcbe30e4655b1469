import Testing

@testable import Lockouts

@Suite("LockoutScope")
struct LockoutScopeTests {
    @Test(
        arguments: [
            ("pump:PUMP-0001", LockoutScope.pump("PUMP-0001")),
            ("patient:patient-001", .patient("patient-001")),
            ("phone:phone-7", .phone("phone-7")),
            ("model:MT-200", .model("MT-200")),
            ("firmware:2.4.1", .firmware("2.4.1")),
            ("all", .all),
        ]
    )
    func eachFormParsesAndPrintsBack(text: String, scope: LockoutScope) throws {
        #expect(try LockoutScope(parsing: text) == scope)
        #expect(scope.description == text)
    }

    @Test func aValueMayContainColonsAndBeExactly64Characters() throws {
        #expect(try LockoutScope(parsing: "pump:a:b") == .pump("a:b"))
        let longest = String(repeating: "x", count: LockoutScope.maximumValueLength)
        #expect(try LockoutScope(parsing: "model:\(longest)") == .model(longest))
    }

    @Test(
        arguments: [
            "",  // nothing
            "ALL",  // kinds are lower case
            "all:",  // `all` takes no value
            "everything",  // no colon
            "serial:PUMP-0001",  // unknown kind
            ":PUMP-0001",  // no kind
            "pump:",  // missing value
            "pump: PUMP-0001",  // a leading space
            "model:Demo 0.05 U pump ",  // a trailing space
            "pump:PUMP\t1",  // a control character
            "model:MT-200\n",
            "firmware:2.4.1é",  // not printable ASCII
            "pump:" + String(repeating: "x", count: LockoutScope.maximumValueLength + 1),  // over 64
        ]
    )
    func malformedScopesAreUnknown(text: String) {
        // Inner spaces are allowed: model names have them ("model:Demo 0.05 U pump").
        #expect(throws: LockoutFixture.error(.unknownScope)) { try LockoutScope(parsing: text) }
    }

    @Test func theRejectionNamesTheInputAndTheForms() throws {
        let error = try #require(throws: LockoutError.self) { try LockoutScope(parsing: "serial:P1") }
        #expect(error.reason.contains("serial:P1"))
        #expect(error.reason.contains("pump:SERIAL"))
    }

    // MARK: covers

    static let pump = PumpAttributes(serial: "P1", patient: "patient-001", model: "MT-200", firmware: "2.4.1")
    static let unknownPump = PumpAttributes(serial: "P2")

    @Test func aPumpScopeCoversOnlyThatSerial() {
        #expect(LockoutScope.pump("P1").covers(Self.pump))
        #expect(!LockoutScope.pump("P2").covers(Self.pump))
        #expect(!LockoutScope.pump("p1").covers(Self.pump))
    }

    @Test func aPatientScopeCoversThatPatientsPumpsOnly() {
        #expect(LockoutScope.patient("patient-001").covers(Self.pump))
        #expect(!LockoutScope.patient("patient-002").covers(Self.pump))
        #expect(!LockoutScope.patient("patient-001").covers(Self.unknownPump))
    }

    @Test func aModelScopeCoversThatModelOnly() {
        #expect(LockoutScope.model("MT-200").covers(Self.pump))
        #expect(!LockoutScope.model("MT-300").covers(Self.pump))
        #expect(!LockoutScope.model("MT-200").covers(Self.unknownPump))
    }

    @Test func aFirmwareScopeCoversThatVersionOnly() {
        #expect(LockoutScope.firmware("2.4.1").covers(Self.pump))
        #expect(!LockoutScope.firmware("2.4.2").covers(Self.pump))
        #expect(!LockoutScope.firmware("2.4.1").covers(Self.unknownPump))
    }

    @Test func allCoversEveryPumpEvenUnknownOnes() {
        #expect(LockoutScope.all.covers(Self.pump))
        #expect(LockoutScope.all.covers(Self.unknownPump))
    }

    @Test func aPhoneScopeCoversNoPump() {
        #expect(!LockoutScope.phone("P1").covers(Self.pump))
        #expect(!LockoutScope.phone("phone-7").covers(Self.unknownPump))
        #expect(!LockoutScope.phone("phone-7").locksPumps)
        #expect(LockoutScope.all.locksPumps)
    }
}
