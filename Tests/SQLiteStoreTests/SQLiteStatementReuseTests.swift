import Foundation
import SQLiteStore
import Testing

/// Statements are compiled once per connection and reused (`SQLiteStatementPool`); reuse must
/// never show old bindings, share a statement between two users, or keep an old snapshot.
@Suite("SQLite statements reused by text")
struct SQLiteStatementReuseTests {
    func database() throws -> (SQLiteConnection, String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("reuse-\(UUID().uuidString).sqlite")
            .path
        let connection = try SQLiteConnection.openPrivate(
            path: path,
            schemaVersion: 1,
            schema: "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
        )
        try connection.writeTransaction {
            for (id, name) in [(1, "one"), (2, "two"), (3, "three")] {
                let insert = try connection.prepare("INSERT INTO item(id, name) VALUES (?, ?)")
                try insert.bind(Int64(id), at: 1)
                try insert.bind(name, at: 2)
                try insert.run()
            }
        }
        return (connection, path)
    }

    func names(_ connection: SQLiteConnection, above id: Int64) throws -> [String] {
        let select = try connection.prepare("SELECT name FROM item WHERE id > ? ORDER BY id")
        try select.bind(.integer(id), at: 1)
        var names: [String] = []
        while try select.step() { names.append(select.text(0)) }
        return names
    }

    @Test("the same text again runs with its own bindings; a nested use of the same text gets its own statement")
    func bindingsAndNesting() throws {
        let (connection, _) = try database()
        #expect(try names(connection, above: 0) == ["one", "two", "three"])
        #expect(try names(connection, above: 2) == ["three"])
        // An unbound parameter is NULL again, not the last value bound.
        let unbound = try connection.prepare("SELECT name FROM item WHERE id > ? ORDER BY id")
        #expect(try unbound.step() == false)
        // Outer and inner iterations of the same query.
        let outer = try connection.prepare("SELECT name FROM item WHERE id > ? ORDER BY id")
        try outer.bind(.integer(0), at: 1)
        var pairs: [String] = []
        while try outer.step() {
            let name = outer.text(0)
            for inner in try names(connection, above: 1) { pairs.append("\(name)-\(inner)") }
        }
        #expect(pairs.count == 6 && pairs.first == "one-two" && pairs.last == "three-three")
    }

    @Test("a statement left mid-result keeps no snapshot: another connection's commit is seen by the next read")
    func noStaleSnapshot() throws {
        let (connection, path) = try database()
        do {
            let partial = try connection.prepare("SELECT name FROM item WHERE id > ? ORDER BY id")
            try partial.bind(.integer(0), at: 1)
            #expect(try partial.step() && partial.text(0) == "one")
        }  // ends here, after one row of three
        let version = try connection.dataVersion()
        let other = try SQLiteConnection(path: path)
        try other.writeTransaction { try other.execute("INSERT INTO item(id, name) VALUES (4, 'four')") }
        #expect(try connection.dataVersion() != version)
        #expect(try names(connection, above: 3) == ["four"])
        // This connection's own writes are counted apart.
        let changes = connection.totalChanges
        try connection.writeTransaction { try connection.execute("DELETE FROM item WHERE id = 4") }
        #expect(connection.totalChanges == changes + 1)
        #expect(try names(connection, above: 3) == [])
    }
}
