import AuditLog
import Foundation
import Testing

/// An operator with database access edits the log with the sqlite3 command line tool:
/// `medtunnel audit verify` must fail naming the entry or checkpoint, and the witness must refuse
/// a rolled-back log.
@Suite("Tampering with the sqlite3 CLI")
struct TamperTests {
    /// A state directory with 40 entries and checkpoints at 8, 16, 24, 32, 40, and a witness that has
    /// accepted checkpoint 40.
    static func makeLog() async throws -> (directory: String, database: String, witness: String) {
        let directory = TestSupport.temporaryDirectory()
        let state = "\(directory)/state"
        do {
            let log = try await AuditLog.open(
                stateDirectory: state,
                configuration: .init(origin: TestSupport.origin, checkpointInterval: 8)
            )
            for number in 0..<40 { _ = try await log.append(TestSupport.event(number)) }
        }
        let witness = "\(directory)/witness.json"
        let clean = try TestSupport.audit(["verify", "--state-dir", state, "--witness", witness])
        #expect(clean.status == 0, "pristine log: \(clean.stderr)")
        #expect(clean.stdout.contains("verified 40 entries, 5 checkpoints"))
        return (state, "\(state)/audit.sqlite", witness)
    }

    static func verify(_ state: String, witness: String? = nil) throws -> TestSupport.Output {
        try TestSupport.audit(["verify", "--state-dir", state] + (witness.map { ["--witness", $0] } ?? []))
    }

    static func editedBody(_ database: String, index: UInt64) async throws -> [UInt8] {
        let store = try SQLiteAuditStore(path: database, create: false)
        var body = try #require(try await store.entries(in: index..<index + 1).first).body
        body[body.count - 2] = UInt8(ascii: "9")  // the payload's last digit before "}"
        return body
    }

    @Test("an edited entry is named by index")
    func editedRow() async throws {
        let (state, database, witness) = try await Self.makeLog()
        let body = try await Self.editedBody(database, index: 17)
        try TestSupport.sqlite(database, "UPDATE entry SET body = X'\(TestSupport.hex(body))' WHERE idx = 17")
        let result = try Self.verify(state, witness: witness)
        #expect(result.status == 1)
        #expect(result.stderr.contains("entry 17: leaf hash mismatch"), "\(result.stderr)")
    }

    @Test("an edited entry with a recomputed leaf hash is caught by the tree, naming its range")
    func editedRowAndHash() async throws {
        let (state, database, _) = try await Self.makeLog()
        let body = try await Self.editedBody(database, index: 17)
        let leaf = RFC9162.leafHash(body)
        try TestSupport.sqlite(
            database,
            "UPDATE entry SET body = X'\(TestSupport.hex(body))', leaf_hash = X'\(TestSupport.hex(leaf))' WHERE idx = 17"
        )
        let result = try Self.verify(state)
        #expect(result.status == 1)
        #expect(result.stderr.contains("entries 16..<18"), "\(result.stderr)")
    }

    @Test("a deleted entry is named by index")
    func deletedRow() async throws {
        let (state, database, _) = try await Self.makeLog()
        try TestSupport.sqlite(database, "DELETE FROM entry WHERE idx = 5")
        let result = try Self.verify(state)
        #expect(result.status == 1)
        #expect(result.stderr.contains("entry 5: missing"), "\(result.stderr)")
    }

    @Test(
        "truncated last rows are named by the checkpoint that covered them; a full rollback is refused by the witness"
    )
    func truncated() async throws {
        let (state, database, witness) = try await Self.makeLog()
        try TestSupport.sqlite(database, "DELETE FROM entry WHERE idx >= 35")
        let result = try Self.verify(state, witness: witness)
        #expect(result.status == 1)
        #expect(result.stderr.contains("checkpoint 40: signed for 40 entries but the log has 35"), "\(result.stderr)")

        // Cover the tracks: drop everything after 32, including its checkpoints and tree nodes.
        try TestSupport.sqlite(
            database,
            "DELETE FROM entry WHERE idx >= 32; DELETE FROM checkpoint WHERE size > 32; DELETE FROM tree_node WHERE id >= \(32 * 64)"
        )
        let alone = try Self.verify(state)
        #expect(alone.status == 0, "a consistent shorter log verifies on its own: \(alone.stderr)")
        let witnessed = try Self.verify(state, witness: witness)
        #expect(witnessed.status == 2)
        #expect(witnessed.stderr.contains("checkpoint 32: smaller than the witnessed size 40"), "\(witnessed.stderr)")
    }

    @Test("a checkpoint re-signed with another key is named")
    func resigned() async throws {
        let (state, database, _) = try await Self.makeLog()
        let store = try SQLiteAuditStore(path: database, create: false)
        let root = try await store.rootHash(size: 16)
        let intruder = try CheckpointSigner.generate(name: TestSupport.origin)
        let note = try intruder.sign(Checkpoint(origin: TestSupport.origin, size: 16, rootHash: root)).note
        try TestSupport.sqlite(database, "UPDATE checkpoint SET note = '\(note)' WHERE size = 16")
        let result = try Self.verify(state)
        #expect(result.status == 1)
        #expect(result.stderr.contains("checkpoint 16: no signature by the trusted key"), "\(result.stderr)")
    }
}
