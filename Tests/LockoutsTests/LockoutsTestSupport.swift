import AuditLog
import Foundation
import Testing

@testable import Lockouts

/// A state directory on disk with a real audit log and a lockout store writing through it.
struct LockoutFixture {
    let directory: String
    let audit: AuditLog
    let store: LockoutStore

    static let now: Int64 = 1_763_700_000_000
    static let alice = try! AuditActor(id: "alice", role: "incident")
    static let bob = try! AuditActor(id: "bob", role: "incident")

    /// A rejection's code: `LockoutError` equality is on the code alone.
    static func error(_ code: LockoutError.Code) -> LockoutError { LockoutError(code, "") }

    static func make() async throws -> LockoutFixture {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("lockouts-\(UUID().uuidString)").path
        let audit = try await AuditLog.open(stateDirectory: directory)
        return LockoutFixture(
            directory: directory,
            audit: audit,
            store: try LockoutStore(stateDirectory: directory, audit: audit)
        )
    }

    /// The same state directory opened again, as a restarted gateway would (the old store is
    /// simply abandoned, as a killed process's would be).
    func reopened() async throws -> LockoutFixture {
        let audit = try await AuditLog.open(stateDirectory: directory)
        return LockoutFixture(
            directory: directory,
            audit: audit,
            store: try LockoutStore(stateDirectory: directory, audit: audit)
        )
    }

    /// Starts a lockout by alice.
    @discardableResult
    func start(
        _ scope: LockoutScope,
        reason: String = "suspected compromise",
        suspend: Bool = false,
        at now: Int64 = LockoutFixture.now
    ) async throws -> Lockout {
        try await store.start(scope: scope, reason: reason, suspendDelivery: suspend, by: Self.alice, now: now)
    }

    /// The lockout payload of the audit entry at `index`, checking its kind.
    func record(at index: UInt64, kind: AuditKind) async throws -> LockoutAuditRecord {
        let entry = try await audit.entry(at: index)
        #expect(entry.event.kind == kind)
        return try #require(LockoutAuditRecord(entry))
    }

    /// Appends a lockout entry straight to the log, as a gateway that crashed before its store
    /// commit would have left it.
    @discardableResult
    func appendDirectly(_ record: LockoutAuditRecord, by actor: AuditActor) async throws -> UInt64 {
        try await audit.append(try record.auditEvent(actor: actor)).index
    }
}
