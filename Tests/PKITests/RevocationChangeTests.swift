import Foundation
import MedTunnelIdentity
import MedTunnelPKI
import Testing

@Suite("Revoking and unrevoking: checked, recorded first, reversible")
struct RevocationChangeTests {
    struct RecordFailed: Error {}

    /// 2026-01-01T00:00:00.789Z
    static let now = Date(timeIntervalSince1970: 1_767_225_600.789)
    /// `now` as the list keeps it, in whole seconds.
    static let nowSeconds = Date(timeIntervalSince1970: 1_767_225_600)

    @Test(
        "a pump serial the PKI never enrolled is refused, naming it, the folder and sign-pump; nothing is recorded or written"
    )
    func unknownSerial() async throws {
        let temporary = try TemporaryPKI(pumps: ["PUMP-0001"])
        defer { temporary.remove() }
        var recorded = 0
        let error = try await #require(throws: PKIError.self) {
            try await RevocationList.revoke(.pump(serial: "PUMP-0010"), reason: "stolen", in: temporary.directory) {
                _ in recorded += 1
            }
        }
        #expect(error.code == .notIssued)
        let root = temporary.directory.root.path
        #expect(error.reason.contains("pump PUMP-0010 has no certificate from the PKI in \(root)"), "\(error)")
        #expect(error.reason.contains("\(root)/pumps/PUMP-0010.pem"))
        #expect(error.reason.contains("`medtunnel pki sign-pump --csr FILE --model NAME --firmware VERSION`"))
        #expect(recorded == 0)
        #expect(try temporary.lines() == nil)
    }

    @Test("a phone id the PKI never enrolled is refused, suggesting sign-phone")
    func unknownPhone() async throws {
        let temporary = try TemporaryPKI(phones: ["PHONE-1"])
        defer { temporary.remove() }
        // A pump certificate does not make a phone of the same name known.
        try temporary.pki.enroll(.pump(serial: "PHONE-2"))
        let error = try await #require(throws: PKIError.self) {
            try await RevocationList.revoke(.phone(id: "PHONE-2"), reason: "lost", in: temporary.directory) { _ in }
        }
        #expect(error.code == .notIssued)
        #expect(error.reason.contains("phone PHONE-2 has no certificate"), "\(error)")
        #expect(error.reason.contains("medtunnel pki sign-phone --csr FILE"))
        #expect(try temporary.lines() == nil)
    }

    @Test("a PKI directory that does not exist is refused as never issued, and is not created")
    func missingDirectory() async throws {
        let temporary = try TemporaryPKI()
        defer { temporary.remove() }
        let typo = PKIDirectory(temporary.directory.root.path + "-typo")
        let error = try await #require(throws: PKIError.self) {
            try await RevocationList.revoke(.pump(serial: "PUMP-0001"), reason: "stolen", in: typo) { _ in }
        }
        #expect(error.code == .notIssued)
        #expect(error.reason.contains(typo.root.path))
        #expect(!FileManager.default.fileExists(atPath: typo.root.path))
    }

    @Test("an empty or blank reason is refused, for revoking and for unrevoking")
    func emptyReason() async throws {
        let temporary = try TemporaryPKI(pumps: ["PUMP-0001"])
        defer { temporary.remove() }
        for reason in ["", "  \t\n "] {
            let error = try await #require(throws: PKIError.self) {
                try await RevocationList.revoke(.pump(serial: "PUMP-0001"), reason: reason, in: temporary.directory) {
                    _ in
                }
            }
            #expect(error.code == .invalidReason)
            #expect(error.reason.contains("the reason for revoking pump PUMP-0001 is empty"), "\(error)")
        }
        #expect(try temporary.lines() == nil)
        _ = try await RevocationList.revoke(.pump(serial: "PUMP-0001"), reason: "stolen", in: temporary.directory) {
            _ in
        }
        let error = try await #require(throws: PKIError.self) {
            try await RevocationList.unrevoke(.pump(serial: "PUMP-0001"), reason: " ", in: temporary.directory) { _ in }
        }
        #expect(error.code == .invalidReason)
        #expect(try RevocationList.load(from: temporary.directory).contains(.pump(serial: "PUMP-0001")))
    }

    @Test("an invalid serial is refused before any path is built from it")
    func invalidName() async throws {
        let temporary = try TemporaryPKI(pumps: ["PUMP-0001"])
        defer { temporary.remove() }
        let error = try await #require(throws: PKIError.self) {
            try await RevocationList.revoke(.pump(serial: "../ca"), reason: "x", in: temporary.directory) { _ in }
        }
        #expect(error.code == .invalidName)
        #expect(error.reason.contains("'../ca'"))
    }

    @Test("the change is recorded before the list changes: the record sees the old list, the list then has the line")
    func recordedFirst() async throws {
        let temporary = try TemporaryPKI(pumps: ["PUMP-0001"])
        defer { temporary.remove() }
        let pki = temporary.directory
        var changes: [RevocationChange] = []
        var listedWhenRecorded: [Bool] = []
        let outcome = try await RevocationList.revoke(
            .pump(serial: "PUMP-0001"),
            reason: "  lost\ton the bus\n",
            in: pki,
            now: Self.now
        ) { change in
            changes.append(change)
            listedWhenRecorded.append(try RevocationList.load(from: pki).contains(.pump(serial: "PUMP-0001")))
        }
        let entry = RevocationList.Entry(
            identity: .pump(serial: "PUMP-0001"),
            revokedAt: Self.nowSeconds,
            reason: "lost on the bus"
        )
        #expect(outcome == .revoked(entry))
        #expect(listedWhenRecorded == [false])
        let change = try #require(changes.first)
        #expect(changes.count == 1)
        #expect(change.operation == .revoke)
        #expect(change.identity == .pump(serial: "PUMP-0001"))
        #expect(change.reason == "lost on the bus")
        #expect(change.time == Self.now)
        #expect(try temporary.lines() == ["urn:medtunnel:pump:PUMP-0001\t1767225600\tlost on the bus"])
        #expect(try RevocationList.load(from: pki).entry(for: .pump(serial: "PUMP-0001")) == entry)
    }

    @Test("when the record fails, nothing is revoked and nothing is unrevoked")
    func recordFailureChangesNothing() async throws {
        let temporary = try TemporaryPKI(pumps: ["PUMP-0001", "PUMP-0002"])
        defer { temporary.remove() }
        let pki = temporary.directory
        await #expect(throws: RecordFailed.self) {
            try await RevocationList.revoke(.pump(serial: "PUMP-0001"), reason: "stolen", in: pki) { _ in
                throw RecordFailed()
            }
        }
        #expect(try temporary.lines() == nil)
        _ = try await RevocationList.revoke(.pump(serial: "PUMP-0002"), reason: "stolen", in: pki) { _ in }
        let before = try temporary.lines()
        await #expect(throws: RecordFailed.self) {
            try await RevocationList.unrevoke(.pump(serial: "PUMP-0002"), reason: "found", in: pki) { _ in
                throw RecordFailed()
            }
        }
        #expect(try temporary.lines() == before)
    }

    @Test("revoking twice keeps one line and reports the first revocation; the second is not recorded")
    func revokeTwice() async throws {
        let temporary = try TemporaryPKI(pumps: ["PUMP-0001"])
        defer { temporary.remove() }
        let pki = temporary.directory
        var recorded = 0
        let first = try await RevocationList.revoke(
            .pump(serial: "PUMP-0001"),
            reason: "stolen",
            in: pki,
            now: Self.now
        ) { _ in recorded += 1 }
        let second = try await RevocationList.revoke(
            .pump(serial: "PUMP-0001"),
            reason: "stolen again",
            in: pki,
            now: Self.now.addingTimeInterval(3600)
        ) { _ in recorded += 1 }
        let entry = RevocationList.Entry(
            identity: .pump(serial: "PUMP-0001"),
            revokedAt: Self.nowSeconds,
            reason: "stolen"
        )
        #expect(first == .revoked(entry))
        #expect(second == .alreadyRevoked(entry))
        #expect(recorded == 1)
        #expect(try temporary.lines()?.count == 1)
    }

    @Test("unrevoking removes every line of that identity, keeps the others as they are, and is recorded first")
    func unrevoke() async throws {
        let temporary = try TemporaryPKI(pumps: ["PUMP-0001", "PUMP-0002"], phones: ["PUMP-0001"])
        defer { temporary.remove() }
        let pki = temporary.directory
        // A hand-edited list: a duplicate line, a comment, a phone with the pump's name.
        try """
        urn:medtunnel:pump:PUMP-0001\t100\tstolen
        # checked by carol
        urn:medtunnel:phone:PUMP-0001\t101\tlost
        urn:medtunnel:pump:PUMP-0002\t102\tbroken
        urn:medtunnel:pump:PUMP-0001\t103\tstolen (again)

        """.write(to: pki.revocationList, atomically: true, encoding: .utf8)
        var changes: [RevocationChange] = []
        var listedWhenRecorded: [Bool] = []
        let lifted = try await RevocationList.unrevoke(
            .pump(serial: "PUMP-0001"),
            reason: "found in the drawer",
            in: pki,
            now: Self.now
        ) { change in
            changes.append(change)
            listedWhenRecorded.append(try RevocationList.load(from: pki).contains(.pump(serial: "PUMP-0001")))
        }
        #expect(
            lifted
                == RevocationList.Entry(
                    identity: .pump(serial: "PUMP-0001"),
                    revokedAt: Date(timeIntervalSince1970: 100),
                    reason: "stolen"
                )
        )
        #expect(listedWhenRecorded == [true])
        let change = try #require(changes.first)
        #expect(changes.count == 1)
        #expect(change.operation == .unrevoke)
        #expect(change.identity == .pump(serial: "PUMP-0001"))
        #expect(change.reason == "found in the drawer")
        #expect(change.time == Self.now)
        #expect(
            try temporary.lines() == [
                "# checked by carol", "urn:medtunnel:phone:PUMP-0001\t101\tlost",
                "urn:medtunnel:pump:PUMP-0002\t102\tbroken",
            ]
        )
        // Revocable again, as if new.
        let again = try await RevocationList.revoke(
            .pump(serial: "PUMP-0001"),
            reason: "stolen",
            in: pki,
            now: Self.now
        ) { _ in }
        #expect(
            again == .revoked(.init(identity: .pump(serial: "PUMP-0001"), revokedAt: Self.nowSeconds, reason: "stolen"))
        )
    }

    @Test("unrevoking what is not revoked is refused, naming it and the list; nothing is recorded")
    func unrevokeNotRevoked() async throws {
        let temporary = try TemporaryPKI(pumps: ["PUMP-0001"], phones: ["PHONE-1"])
        defer { temporary.remove() }
        let pki = temporary.directory
        _ = try await RevocationList.revoke(.phone(id: "PHONE-1"), reason: "lost", in: pki) { _ in }
        var recorded = 0
        let error = try await #require(throws: PKIError.self) {
            try await RevocationList.unrevoke(.pump(serial: "PUMP-0001"), reason: "found", in: pki) { _ in
                recorded += 1
            }
        }
        #expect(error.code == .notRevoked)
        #expect(error.reason.contains("pump PUMP-0001 is not revoked in \(pki.root.path)"), "\(error)")
        #expect(error.reason.contains(pki.revocationList.path))
        #expect(recorded == 0)
        #expect(try temporary.lines()?.count == 1)
    }

    @Test("concurrent revocations of different pumps all land in the list")
    func concurrentRevocations() async throws {
        let serials = (1...8).map { "PUMP-\($0)" }
        let temporary = try TemporaryPKI(pumps: serials)
        defer { temporary.remove() }
        let pki = temporary.directory
        try await withThrowingDiscardingTaskGroup { group in
            for serial in serials {
                group.addTask {
                    _ = try await RevocationList.revoke(.pump(serial: serial), reason: "recall", in: pki) { _ in
                        await Task.yield()  // a record that suspends, as an audit append does
                    }
                }
            }
        }
        #expect(try RevocationList.load(from: pki).revoked == Set(serials.map { .pump(serial: $0) }))
        #expect(try temporary.lines()?.count == serials.count)
    }
}
