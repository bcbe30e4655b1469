import AuditLog
import Foundation
import Testing
import TherapyModel

@testable import ChangeRequests

/// `changes.sqlite` commits with `synchronous=NORMAL`: its commits are written to the WAL but
/// not fsynced, so a power loss keeps some prefix of the WAL's frames (SQLite's frame checksums
/// are chained and salted, so it stops at the first frame that did not reach the disk, whatever
/// order the pages were written back in). The audit log stays `synchronous=FULL` and loses
/// nothing that was reported.
///
/// These tests run every kind of step on real files, then build each state a power loss could
/// leave — the store's WAL cut at every frame boundary, in the middle of frames, with holes —
/// beside the intact audit log, run `recover()`, and compare everything the store answers with
/// what an intact restart answers.
@Suite("change store power loss: a lost tail of changes.sqlite is rebuilt from the audit log")
struct PowerLossRecoveryTests {
    static let second = "PUMP-0002"
    static let clinician = ChangeActor(id: "drsmith", role: "clinician")
    static let walHeaderBytes = 32
    static let frameHeaderBytes = 24

    /// Every kind of step, on two pumps. Leaves one command sent (uncertain after any restart),
    /// one queued, one pending approval.
    func run(_ fixture: StoreFixture) async throws {
        let store = fixture.store
        func at(_ minute: Int64) -> Timestamp { StoreFixture.later(minute) }
        for serial in [StoreFixture.serial, Self.second] {
            _ = try await store.setTherapy(
                serial: serial,
                prescription: StoreFixture.prescription,
                model: StoreFixture.model,
                by: Self.clinician,
                now: at(0)
            )
        }
        // PUMP-0001: applied; held, approved and sent (left in flight); queued.
        let applied = try await fixture.submit(StoreFixture.bolus(2000), at: at(1))
        _ = try await store.markSent(applied.id, now: at(1))
        _ = try await store.markAcknowledged(serial: StoreFixture.serial, sequence: 1, outcome: .applied, now: at(1))
        let held = try await fixture.submit(StoreFixture.bolus(1500), decision: StoreFixture.needsApproval, at: at(2))
        _ = try await store.approve(held.id, by: StoreFixture.secondClinician, now: at(2))
        _ = try await store.markSent(held.id, now: at(3))
        _ = try await fixture.submit(StoreFixture.bolus(500), at: at(3))
        _ = try await fixture.submit(StoreFixture.bolus(12_000), decision: StoreFixture.reject, at: at(3))
        _ = try await fixture.submit(StoreFixture.bolus(9000), decision: StoreFixture.needsApproval, at: at(4))
        // PUMP-0002: cancelled; refused by the pump; uncertain when its session dropped, then
        // settled applied from its hello.
        let cancelled = try await fixture.submit(StoreFixture.bolus(700), serial: Self.second, at: at(4))
        _ = try await store.cancel(cancelled.id, by: ChangeActor(id: "alice", role: "patient"), now: at(4))
        let refused = try await fixture.submit(StoreFixture.bolus(800), serial: Self.second, at: at(5))
        _ = try await store.markSent(refused.id, now: at(5))
        _ = try await store.markAcknowledged(
            serial: Self.second,
            sequence: 1,
            outcome: .refused(code: "hard_limit"),
            now: at(5)
        )
        let dropped = try await fixture.submit(StoreFixture.bolus(900), serial: Self.second, at: at(6))
        _ = try await store.markSent(dropped.id, now: at(6))
        _ = try await store.markUncertain(forSerial: Self.second, now: at(6))
        _ = try await store.resolveUncertain(dropped.id, as: .applied, now: at(7))
        // A second therapy version, after the changes.
        _ = try await store.setTherapy(
            serial: Self.second,
            prescription: StoreFixture.prescription,
            model: StoreFixture.model,
            by: Self.clinician,
            now: at(8)
        )
    }

    /// Everything the store answers, after recovery.
    struct Answers: Equatable {
        var requests: [String: [ChangeRequest]] = [:]
        var therapy: [String: [PumpTherapy]] = [:]
        var sequences: [String: UInt64] = [:]
        var unfinished: [ChangeRequest] = []
        var next: [String: ChangeRequest?] = [:]
        var auditSize: UInt64 = 0
    }

    func answers(_ fixture: StoreFixture) async throws -> Answers {
        var answers = Answers()
        for serial in [StoreFixture.serial, Self.second] {
            answers.requests[serial] = try await fixture.store.requests(forPump: serial, limit: 1000)
            answers.therapy[serial] = try await fixture.store.therapyHistory(for: serial)
            answers.sequences[serial] = try await fixture.store.lastSequence(for: serial)
            answers.next[serial] = try await fixture.store.next(for: serial, now: StoreFixture.later(10))
        }
        answers.unfinished = try await fixture.store.unfinishedRequests()
        answers.auditSize = try await fixture.audit.storedSize()
        return answers
    }

    /// A state directory as a power loss would leave it: the audit log as it is, the store's
    /// database file as it is, the store's WAL replaced by `wal`. Opened and recovered.
    func restartAfterPowerLoss(
        from directory: String,
        wal: Data
    ) async throws -> (StoreFixture, ChangeRecoveryReport) {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("power-loss-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: false)
        #expect(chmod(copy, 0o700) == 0)
        for name in ["audit.sqlite", "audit.sqlite-wal", "checkpoint-key.pem", "changes.sqlite"] {
            let contents = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(name)"))
            try contents.write(to: URL(fileURLWithPath: "\(copy)/\(name)"))
            #expect(chmod("\(copy)/\(name)", 0o600) == 0)
        }
        try wal.write(to: URL(fileURLWithPath: "\(copy)/changes.sqlite-wal"))
        #expect(chmod("\(copy)/changes.sqlite-wal", 0o600) == 0)
        let audit = try await AuditLog.open(stateDirectory: copy)
        let fixture = StoreFixture(
            backend: .sqlite,
            directory: copy,
            postgresURL: nil,
            audit: audit,
            store: try ChangeRequestStore.open(stateDirectory: copy, audit: audit)
        )
        let report = try await fixture.store.recover(now: StoreFixture.later(9))
        return (fixture, report)
    }

    func contents(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    @Test(
        "the store's WAL cut at every frame, mid-frame and with holes: recover() answers exactly as an intact restart"
    )
    func everyCut() async throws {
        let fixture = try await StoreFixture.make()
        let database = "\(fixture.directory)/changes.sqlite"
        let databaseAtOpen = try contents(database)
        try await run(fixture)
        // Nothing was checkpointed into the database file (the run is far below SQLite's
        // 1000-page auto-checkpoint): with synchronous=NORMAL every WAL frame is then unsynced,
        // and any prefix of them is a state a power loss can leave.
        #expect(try contents(database) == databaseAtOpen)
        #expect(await fixture.store.commitCount > 10)
        let wal = try contents(database + "-wal")
        let pageSize = Int(wal[8]) << 24 | Int(wal[9]) << 16 | Int(wal[10]) << 8 | Int(wal[11])
        let frameBytes = Self.frameHeaderBytes + pageSize
        let frames = (wal.count - Self.walHeaderBytes) / frameBytes
        #expect(frames > 20 && wal.count == Self.walHeaderBytes + frames * frameBytes, "\(wal.count) bytes")

        let (intact, intactReport) = try await restartAfterPowerLoss(from: fixture.directory, wal: wal)
        #expect(intactReport.rolledForward.isEmpty && intactReport.problems.isEmpty)
        let expected = try await answers(intact)
        // The run's end state, as any restart leaves it: the command in flight is uncertain.
        #expect(expected.unfinished.map(\.state) == [.uncertain, .queued, .pendingApproval])
        #expect(expected.sequences == [StoreFixture.serial: 2, Self.second: 2])
        #expect(expected.therapy[Self.second]?.count == 2)

        var cuts: [(String, Data)] = [("no WAL", Data()), ("WAL header only", wal.prefix(Self.walHeaderBytes))]
        for frame in 1..<frames {
            let boundary = Self.walHeaderBytes + frame * frameBytes
            cuts.append(("cut after frame \(frame)", wal.prefix(boundary)))
            cuts.append(("cut inside frame \(frame + 1)", wal.prefix(boundary + Self.frameHeaderBytes + 100)))
        }
        for frame in stride(from: 1, to: frames, by: max(1, frames / 6)) {
            // Frame `frame + 1` never reached the disk (zeros), the ones after it did.
            var holed = wal
            let start = Self.walHeaderBytes + frame * frameBytes
            holed.replaceSubrange(start..<start + frameBytes, with: Data(count: frameBytes))
            cuts.append(("hole at frame \(frame + 1)", holed))
        }
        var rolledForward: [Int] = []
        for (name, cut) in cuts {
            let (restarted, report) = try await restartAfterPowerLoss(from: fixture.directory, wal: cut)
            #expect(report.problems.isEmpty, "\(name): \(report.problems)")
            let got = try await answers(restarted)
            #expect(got == expected, "\(name): the recovered store differs from an intact restart")
            rolledForward.append(report.rolledForward.count)
        }
        // The cuts really lost commits (up to all of them), and recovery put them back.
        #expect(rolledForward.first ?? 0 >= 20, "\(rolledForward)")
        #expect(Set(rolledForward).count > 5, "\(rolledForward)")
    }
}
