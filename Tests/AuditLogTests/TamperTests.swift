import AuditLog
import Foundation
import MedTunnelTestSupport
import Testing

/// An operator with database access edits the log with the database's own command line tool
/// (sqlite3, psql): `medtunnel audit verify` must fail naming the entry or checkpoint, and the
/// witness must refuse a rolled-back log. The same edits on both backends.
@Suite("Tampering with the database directly", .offThePool)
struct TamperTests {
    /// A log with 40 entries and checkpoints at 8, 16, 24, 32, 40, and a witness that has
    /// accepted checkpoint 40.
    static func makeLog(_ backend: Backend) async throws -> (database: TestDatabase, witness: String) {
        let database = try backend.makeDatabase()
        do {
            let log = try await database.openLog(
                configuration: .init(origin: TestSupport.origin, checkpointInterval: 8)
            )
            for number in 0..<40 { _ = try await log.append(TestSupport.event(number)) }
        }
        let witness = "\(TestSupport.temporaryDirectory())/witness.json"
        let clean = try Self.verify(database, witness: witness)
        #expect(clean.status == 0, "pristine log: \(clean.stderr)")
        #expect(clean.stdout.contains("verified 40 entries, 5 checkpoints"))
        return (database, witness)
    }

    static func verify(_ database: TestDatabase, witness: String? = nil) throws -> TestSupport.Output {
        try TestSupport.audit(
            ["verify"] + (try database.verifyArguments()) + (witness.map { ["--witness", $0] } ?? [])
        )
    }

    static func editedBody(_ database: TestDatabase, index: UInt64) async throws -> [UInt8] {
        let store = try await database.openStore()
        var body = try #require(try await store.entries(in: index..<index + 1).first).body
        body[body.count - 2] = UInt8(ascii: "9")  // the payload's last digit before "}"
        return body
    }

    @Test("an edited entry is named by index", arguments: Backend.allCases)
    func editedRow(backend: Backend) async throws {
        let (database, witness) = try await Self.makeLog(backend)
        let body = try await Self.editedBody(database, index: 17)
        try database.sql("UPDATE entry SET body = \(database.blob(body)) WHERE idx = 17")
        let result = try Self.verify(database, witness: witness)
        #expect(result.status == 1)
        #expect(result.stderr.contains("entry 17: leaf hash mismatch"), "\(result.stderr)")
    }

    @Test(
        "an edited entry with a recomputed leaf hash is caught by the tree, naming its range",
        arguments: Backend.allCases
    )
    func editedRowAndHash(backend: Backend) async throws {
        let (database, _) = try await Self.makeLog(backend)
        let body = try await Self.editedBody(database, index: 17)
        let leaf = RFC9162.leafHash(body)
        try database.sql(
            "UPDATE entry SET body = \(database.blob(body)), leaf_hash = \(database.blob(leaf)) WHERE idx = 17"
        )
        let result = try Self.verify(database)
        #expect(result.status == 1)
        #expect(result.stderr.contains("entries 16..<18"), "\(result.stderr)")
    }

    @Test("a deleted entry is named by index", arguments: Backend.allCases)
    func deletedRow(backend: Backend) async throws {
        let (database, _) = try await Self.makeLog(backend)
        try database.sql("DELETE FROM entry WHERE idx = 5")
        let result = try Self.verify(database)
        #expect(result.status == 1)
        #expect(result.stderr.contains("entry 5: missing"), "\(result.stderr)")
    }

    @Test(
        "truncated last rows are named by the checkpoint that covered them; a full rollback is refused by the witness",
        arguments: Backend.allCases
    )
    func truncated(backend: Backend) async throws {
        let (database, witness) = try await Self.makeLog(backend)
        try database.sql("DELETE FROM entry WHERE idx >= 35")
        let result = try Self.verify(database, witness: witness)
        #expect(result.status == 1)
        #expect(result.stderr.contains("checkpoint 40: signed for 40 entries but the log has 35"), "\(result.stderr)")

        // Cover the tracks: drop everything after 32, including its checkpoints and tree nodes.
        try database.sql(
            "DELETE FROM entry WHERE idx >= 32; DELETE FROM checkpoint WHERE size > 32; DELETE FROM tree_node WHERE id >= \(32 * 64)"
        )
        let alone = try Self.verify(database)
        #expect(alone.status == 0, "a consistent shorter log verifies on its own: \(alone.stderr)")
        let witnessed = try Self.verify(database, witness: witness)
        #expect(witnessed.status == 2)
        #expect(witnessed.stderr.contains("checkpoint 32: smaller than the witnessed size 40"), "\(witnessed.stderr)")
    }

    @Test("a deleted node of the right edge stops the next append, naming the node", arguments: Backend.allCases)
    func deletedEdgeNode(backend: Backend) async throws {
        let (database, _) = try await Self.makeLog(backend)
        // 40 entries: the right edge is 0..<32 and 32..<40, the second node(level 3, index 4).
        try database.sql("DELETE FROM tree_node WHERE id = \(39 * 64 + 3)")
        let store = try await database.openStore()
        // Under the write lock, where a writer that lost a race builds its batch again.
        let atTip = await #expect(throws: AuditLogError.self) {
            try await store.appendAtTip { tip -> (AuditBatch, Void) in
                Issue.record("a batch was built on a tip of \(tip.size) with a node missing")
                throw AuditLogError(.storageFailure, "not reached")
            }
        }
        #expect(atTip?.code == .nodeMismatch, "\(String(describing: atTip))")
        #expect(atTip?.reason.contains("node(level 3, index 4)") == true, "\(String(describing: atTip))")
        // And a log opened on it.
        let opening = await #expect(throws: AuditLogError.self) {
            let log = try await database.openLog(
                configuration: .init(origin: TestSupport.origin, checkpointInterval: 8)
            )
            _ = try await log.append(TestSupport.event(40))
        }
        #expect(opening?.code == .nodeMismatch, "\(String(describing: opening))")
        #expect(try await store.size() == 40, "nothing appended")
    }

    @Test("a checkpoint re-signed with another key is named", arguments: Backend.allCases)
    func resigned(backend: Backend) async throws {
        let (database, _) = try await Self.makeLog(backend)
        let store = try await database.openStore()
        let root = try await store.rootHash(size: 16)
        let intruder = try CheckpointSigner.generate(name: TestSupport.origin)
        let note = try intruder.sign(Checkpoint(origin: TestSupport.origin, size: 16, rootHash: root)).note
        try database.sql("UPDATE checkpoint SET note = '\(note)' WHERE size = 16")
        let result = try Self.verify(database)
        #expect(result.status == 1)
        #expect(result.stderr.contains("checkpoint 16: no signature by the trusted key"), "\(result.stderr)")
    }
}
