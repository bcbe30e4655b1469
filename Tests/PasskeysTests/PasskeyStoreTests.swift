import AuditLog
import MedTunnelTestSupport
import PasskeyStore
import Testing

@testable import Passkeys

/// The passkey store on both engines; on PostgreSQL, two instances are two gateway nodes.
@Suite("passkey store")
struct PasskeyStoreTests {
    static let now: Int64 = 1_763_700_000_000

    /// Two stores on one state directory: two processes on SQLite, two nodes on PostgreSQL.
    func twoStores(_ backend: StoreBackend) async throws -> (PasskeyStore, PasskeyStore) {
        let directory = try backend.newStateDirectory("passkeys")
        _ = try await backend.openAudit(stateDirectory: directory)  // makes (or migrates) the tables
        return (
            try await PasskeyStore.forStateDirectory(directory),
            try await PasskeyStore.forStateDirectory(directory)
        )
    }

    static func credential(_ id: UInt8, signCount: UInt32 = 0) -> RegistrationCeremony.NewCredential {
        RegistrationCeremony.NewCredential(
            credentialID: Array(repeating: id, count: 16),
            publicKey: [0x04] + Array(repeating: id, count: 64),
            signCount: signCount,
            aaguid: Array(repeating: 0, count: 16),
            backupEligible: false
        )
    }

    @Test("an invitation registers one passkey, whichever store is asked second", arguments: StoreBackend.allCases)
    func invitationUsedOnce(_ backend: StoreBackend) async throws {
        let (a, b) = try await twoStores(backend)
        try await a.addInvitation(token: "invite-1", userID: "alice", nowMilliseconds: Self.now)
        _ = try await b.userHandle(of: "alice", candidate: Array(repeating: 7, count: 32))
        try await b.register(
            Self.credential(1),
            userID: "alice",
            invitationToken: "invite-1",
            nowMilliseconds: Self.now
        )
        await #expect(throws: PasskeyError(.invitationUsed, "")) {
            try await a.register(
                Self.credential(2),
                userID: "alice",
                invitationToken: "invite-1",
                nowMilliseconds: Self.now
            )
        }
        let stored = try await a.credentials(ofUser: "alice")
        #expect(stored.map(\.credentialID) == [Self.credential(1).credentialID])
        #expect(stored.first?.userHandle == Array(repeating: 7, count: 32))
        await #expect(throws: PasskeyError(.invitationUnknown, "")) {
            try await a.usableInvitation(token: "invite-2", nowMilliseconds: Self.now)
        }
    }

    @Test("a user's handle is made once: the second candidate gets the first", arguments: StoreBackend.allCases)
    func oneHandle(_ backend: StoreBackend) async throws {
        let (a, b) = try await twoStores(backend)
        async let first = a.userHandle(of: "bob", candidate: Array(repeating: 1, count: 32))
        async let second = b.userHandle(of: "bob", candidate: Array(repeating: 2, count: 32))
        let (x, y) = try await (first, second)
        #expect(x == y)
        #expect(try await a.userHandle(of: "bob", candidate: Array(repeating: 3, count: 32)) == x)
    }

    @Test(
        "a sign-in counter only moves forward, across stores; a counterless passkey stays at 0",
        arguments: StoreBackend.allCases
    )
    func counterForwardOnly(_ backend: StoreBackend) async throws {
        let (a, b) = try await twoStores(backend)
        try await a.addInvitation(token: "i-1", userID: "carol", nowMilliseconds: Self.now)
        try await a.addInvitation(token: "i-2", userID: "carol", nowMilliseconds: Self.now)
        _ = try await a.userHandle(of: "carol", candidate: Array(repeating: 9, count: 32))
        try await a.register(
            Self.credential(3, signCount: 1),
            userID: "carol",
            invitationToken: "i-1",
            nowMilliseconds: Self.now
        )
        try await a.register(Self.credential(4), userID: "carol", invitationToken: "i-2", nowMilliseconds: Self.now)
        let counted = Self.credential(3).credentialID
        try await a.recordAssertion(credentialID: counted, signCount: 5, nowMilliseconds: Self.now + 1)
        await #expect(throws: PasskeyError(.counterRegressed, "")) {
            try await b.recordAssertion(credentialID: counted, signCount: 5, nowMilliseconds: Self.now + 2)
        }
        await #expect(throws: PasskeyError(.counterRegressed, "")) {
            try await b.recordAssertion(credentialID: counted, signCount: 0, nowMilliseconds: Self.now + 2)
        }
        try await b.recordAssertion(credentialID: counted, signCount: 6, nowMilliseconds: Self.now + 3)
        #expect(try await a.credential(id: counted)?.signCount == 6)
        let counterless = Self.credential(4).credentialID
        try await b.recordAssertion(credentialID: counterless, signCount: 0, nowMilliseconds: Self.now + 4)
        try await a.recordAssertion(credentialID: counterless, signCount: 0, nowMilliseconds: Self.now + 5)
        #expect(try await b.credential(id: counterless)?.lastUsedAtMilliseconds == Self.now + 5)
        await #expect(throws: PasskeyError(.credentialExists, "")) {
            try await a.addInvitation(token: "i-3", userID: "carol", nowMilliseconds: Self.now)
            try await b.register(Self.credential(3), userID: "carol", invitationToken: "i-3", nowMilliseconds: Self.now)
        }
    }
}
