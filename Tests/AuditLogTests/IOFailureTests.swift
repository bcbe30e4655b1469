import AuditLog
import Foundation
import MedTunnelTestSupport
import Testing

/// A full disk or a failing store makes `append` throw, nothing claims success, and the log
/// refuses further appends until reopened. The disk-full case runs on a small tmpfs when `mount`
/// works (root in a sandbox that allows it); the failing store double always runs.
@Suite("I/O failure", .offThePool)
struct IOFailureTests {
    @Test("a failing store makes append throw, the batch fails as a whole and the log stops")
    func failingStoreDouble() async throws {
        let store = InMemoryAuditStore()
        let log = try await AuditLog(store: store, signer: try CheckpointSigner.generate(name: TestSupport.origin))
        for number in 0..<5 { _ = try await log.append(TestSupport.event(number)) }
        await store.setFailure(afterBatches: 0)
        let results = await withTaskGroup(of: Result<AuditLog.Receipt, any Error>.self) { group in
            for number in 5..<20 {
                group.addTask {
                    do { return .success(try await log.append(TestSupport.event(number))) } catch {
                        return .failure(error)
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(
            results.allSatisfy { if case .failure = $0 { true } else { false } },
            "no failed append may claim success"
        )
        #expect(await store.size() == 5)
        await store.setFailure(afterBatches: nil)
        // The store works again, but this log instance stays stopped: it cannot know what reached disk.
        await #expect(throws: AuditLogError(.logUnavailable, "")) { try await log.append(TestSupport.event(99)) }
        let reopened = try await AuditLog(store: store, signer: log.signer)
        #expect(try await reopened.append(TestSupport.event(99)).index == 5)
    }

    @Test("a full file system makes append throw; every reported append survives")
    func diskFull() async throws {
        let mountPoint = TestSupport.temporaryDirectory()
        let mounted = try TestSupport.run("/bin/mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mountPoint])
        guard mounted.status == 0 else {
            print(
                "IOFailureTests.diskFull: mount unavailable (\(mounted.stderr)); the failing store double covers this"
            )
            return
        }
        defer { _ = try? TestSupport.run("/bin/umount", ["-l", mountPoint]) }
        print("IOFailureTests.diskFull: running on a 256 KiB tmpfs at \(mountPoint)")
        let state = "\(mountPoint)/state"
        var receipts: [AuditLog.Receipt] = []
        var failure: (any Error)?
        do {
            let log = try await AuditLog.open(stateDirectory: state, configuration: .init(origin: TestSupport.origin))
            let payload = Array(repeating: UInt8(ascii: "x"), count: 4000)
            for number in 0..<1000 {
                let event = try AuditEvent(
                    timeMilliseconds: Int64(number),
                    actor: try AuditActor(id: "filler", role: "system"),
                    kind: .securityEvent,
                    payload: payload
                )
                do {
                    receipts.append(try await log.append(event))
                } catch {
                    failure = error
                    break
                }
            }
            let error = try #require(failure as? AuditLogError, "the disk never filled up")
            #expect(error.code == .storageFailure, "\(error)")
            await #expect(throws: AuditLogError(.logUnavailable, "")) { try await log.append(TestSupport.event(1)) }
        }
        #expect(!receipts.isEmpty)
        // Give the file system room, reopen: every reported entry is there and the log verifies.
        _ = try TestSupport.run("/bin/mount", ["-o", "remount,size=4m", mountPoint])
        let store = try SQLiteAuditStore(path: "\(state)/audit.sqlite", create: false)
        let size = try await store.size()
        #expect(size >= UInt64(receipts.count))
        for receipt in receipts {
            let row = try #require(try await store.entries(in: receipt.index..<receipt.index + 1).first)
            #expect(row.leafHash == receipt.leafHash)
        }
        let verifier = try AuditStateDirectory(path: state).signer(name: TestSupport.origin, create: false).verifier
        let report = try await LogVerifier.verify(store: store, verifier: verifier, origin: TestSupport.origin)
        #expect(report.size == size)
    }
}
