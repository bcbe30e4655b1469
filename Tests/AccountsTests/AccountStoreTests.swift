import AuditLog
import Foundation
import MedTunnelTestSupport
import SQLiteStore
import SafetyPolicy
import Testing
import TherapyModel

@testable import Accounts

@Suite("account store")
struct AccountStoreTests {
    @Test(
        "an added account is in the audit log, readable, and gives the policy its actor",
        arguments: StoreBackend.allCases
    )
    func addAndRead(_ backend: StoreBackend) async throws {
        let fixture = try await AccountsFixture.make(backend)
        let account = try await fixture.add("alice", .patient, ["patient=patient-001", "phone=PHONE-1"])
        let entries = try await fixture.entries()
        let entry = try #require(entries.last)
        #expect(entry.event.kind == .accountCreated)
        #expect(entry.event.actor.id == "admin-1")
        #expect(String(decoding: entry.event.payload, as: UTF8.self).contains(#""id":"alice""#))
        #expect(account.createdAuditIndex == entry.index)

        let read = try #require(try await fixture.store.account(id: "alice"))
        #expect(read == account)
        #expect(read.policyActor.isAuthenticated && read.policyActor.patientIDs == ["patient-001"])
        #expect(read.policyActor.role == .patient)
        #expect(try await fixture.store.accounts().map(\.id) == ["alice"])
    }

    @Test(
        "a duplicate id is refused, disabled ones included, and nothing is logged for it",
        arguments: StoreBackend.allCases
    )
    func duplicate(_ backend: StoreBackend) async throws {
        let fixture = try await AccountsFixture.make(backend)
        try await fixture.add("bob", .clinician, ["patient=p1"])
        let size = try await fixture.audit.storedSize()
        await #expect(throws: AccountError(.duplicateUser, "")) {
            try await fixture.add("bob", .caregiver, ["patient=p1"])
        }
        _ = try await fixture.store.disable(
            id: "bob",
            by: AccountsFixture.admin,
            now: AccountsFixture.now,
            audit: fixture.audit
        )
        await #expect(throws: AccountError(.duplicateUser, "")) {
            try await fixture.add("bob", .clinician, ["patient=p1"])
        }
        #expect(try await fixture.audit.storedSize() == size + 1)  // only the disable
    }

    @Test(
        "attributes checked for one role are checked again for the role the account gets",
        arguments: StoreBackend.allCases
    )
    func attributesRecheckedForRole(_ backend: StoreBackend) async throws {
        let fixture = try await AccountsFixture.make(backend)
        let forPatient = try AccountAttributes([try AccountAttribute(parsing: "patient=p1")], for: .patient)
        await #expect(throws: AccountError(.attributeNotAllowed, "")) {
            try await fixture.store.add(
                id: "sneaky",
                role: .admin,
                attributes: forPatient,
                by: AccountsFixture.admin,
                now: AccountsFixture.now,
                audit: fixture.audit
            )
        }
        #expect(try await fixture.entries().isEmpty)
    }

    @Test("disable: logged, takes effect, refused twice and for unknown users", arguments: StoreBackend.allCases)
    func disable(_ backend: StoreBackend) async throws {
        let fixture = try await AccountsFixture.make(backend)
        try await fixture.add("carol", .clinician, ["patient=p1"])
        let disabled = try await fixture.store.disable(
            id: "carol",
            by: AccountsFixture.admin,
            now: AccountsFixture.now,
            audit: fixture.audit
        )
        #expect(disabled.isDisabled)
        #expect(try await fixture.entries().last?.event.kind == .accountDisabled)
        #expect(try await fixture.store.account(id: "carol")?.isDisabled == true)
        await #expect(throws: AccountError(.alreadyDisabled, "")) {
            try await fixture.store.disable(
                id: "carol",
                by: AccountsFixture.admin,
                now: AccountsFixture.now,
                audit: fixture.audit
            )
        }
        await #expect(throws: AccountError(.unknownUser, "")) {
            try await fixture.store.disable(
                id: "nobody",
                by: AccountsFixture.admin,
                now: AccountsFixture.now,
                audit: fixture.audit
            )
        }
    }

    @Test("crash after the pending row, before the audit entry: recovery drops the account")
    func crashBeforeAudit() async throws {
        let fixture = try await AccountsFixture.make()
        await fixture.store.simulateCrash(at: .afterPendingWrite)
        await #expect(throws: AccountError.self) { try await fixture.add("dave", .clinician, ["patient=p1"]) }
        #expect(try await fixture.store.account(id: "dave") == nil)  // pending: invisible

        let restarted = try await fixture.reopened()
        let report = try await restarted.store.recover(audit: restarted.audit, now: AccountsFixture.now)
        #expect(report.dropped == ["dave"] && report.completed.isEmpty)
        #expect(try await restarted.store.account(id: "dave") == nil)
        #expect(try await restarted.entries().isEmpty)
        try await restarted.add("dave", .clinician, ["patient=p1"])  // the id is free again
    }

    @Test("crash after the audit entry, before the row is done: recovery completes it with that index")
    func crashAfterAudit() async throws {
        let fixture = try await AccountsFixture.make()
        await fixture.store.simulateCrash(at: .afterAuditAppend)
        await #expect(throws: AccountError.self) { try await fixture.add("erin", .caregiver, ["patient=p1"]) }
        let logged = try #require(try await fixture.entries().last)
        #expect(logged.event.kind == .accountCreated)

        let restarted = try await fixture.reopened()
        let report = try await restarted.store.recover(audit: restarted.audit, now: AccountsFixture.now)
        #expect(report.completed == ["erin"])
        let account = try #require(try await restarted.store.account(id: "erin"))
        #expect(account.createdAuditIndex == logged.index && account.role == .caregiver)
        #expect(try await restarted.entries().count == 1)  // not logged twice
        #expect(try await restarted.store.recover(audit: restarted.audit, now: AccountsFixture.now).isEmpty)
    }

    @Test("a disable whose audit entry never landed stands, and is logged by recovery")
    func crashedDisableIsLoggedLate() async throws {
        let fixture = try await AccountsFixture.make()
        try await fixture.add("frank", .clinician, ["patient=p1"])
        await fixture.store.simulateCrash(at: .afterPendingWrite)
        await #expect(throws: AccountError.self) {
            try await fixture.store.disable(
                id: "frank",
                by: AccountsFixture.admin,
                now: AccountsFixture.now,
                audit: fixture.audit
            )
        }
        #expect(try await fixture.store.account(id: "frank")?.isDisabled == true)  // effective at once

        let restarted = try await fixture.reopened()
        let report = try await restarted.store.recover(audit: restarted.audit, now: AccountsFixture.now)
        #expect(report.loggedLate == ["frank"])
        let entry = try #require(try await restarted.entries().last)
        #expect(entry.event.kind == .accountDisabled && entry.event.actor.role == "system")
    }

    @Test("the database and its directory are private to the owner")
    func permissions() async throws {
        let fixture = try await AccountsFixture.make()
        try await fixture.add("gina", .admin, [])
        let attributes = try FileManager.default.attributesOfItem(
            atPath: AccountStore.databasePath(stateDirectory: fixture.directory)
        )
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }
}

@Suite("account store: the retired pump= attribute")
struct RetiredPumpAttributeTests {
    @Test("an account stored with pump= (before pairing) still loads, without it")
    func storedPumpAttributeLoads() async throws {
        let fixture = try await AccountsFixture.make()
        _ = try await fixture.add("alice", .patient, ["patient=patient-001", "phone=PHONE-1"])
        let database = try SQLiteConnection(path: AccountStore.databasePath(stateDirectory: fixture.directory))
        try database.execute(
            "UPDATE account SET attributes = 'patient=patient-001\npump=PUMP-0001\nphone=PHONE-1' WHERE id = 'alice'"
        )
        let reopened = try AccountStore.open(stateDirectory: fixture.directory)
        let alice = try #require(try await reopened.account(id: "alice"))
        #expect(alice.attributes.description == "patient=patient-001 phone=PHONE-1")
    }
}
