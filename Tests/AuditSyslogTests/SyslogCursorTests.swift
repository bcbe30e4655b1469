import Foundation
import Testing

@testable import AuditSyslog

@Suite("syslog: the durable cursor file")
struct SyslogCursorTests {
    static func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("syslog-cursor-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("absent at first; a stored cursor reads back, mode 0600, and a later one replaces it")
    func storeAndLoad() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cursor = SyslogCursor(stateDirectory: directory)
        #expect(cursor.load() == .absent)
        try cursor.store(17)
        #expect(cursor.load() == .next(17))
        try cursor.store(4_000_000_000_000)
        #expect(cursor.load() == .next(4_000_000_000_000))
        let mode = try FileManager.default.attributesOfItem(atPath: cursor.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(
            try String(contentsOfFile: cursor.path, encoding: .utf8)
                == "medtunnel-syslog-cursor v1 next=4000000000000\n"
        )
    }

    @Test("a temporary file torn by a crash during a write is ignored: the last whole cursor counts")
    func tornTemporary() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cursor = SyslogCursor(stateDirectory: directory)
        try cursor.store(40)
        // What a crash between write and rename leaves: a half-written temporary beside the cursor.
        try Data("medtunnel-syslog-cursor v1 next=9".utf8).write(to: URL(fileURLWithPath: cursor.path + ".tmp-4242"))
        #expect(cursor.load() == .next(40))
        try cursor.store(41)
        #expect(cursor.load() == .next(41))
    }

    @Test("a cursor file that is cut or garbled is malformed (the stream then resends the whole log)")
    func malformed() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cursor = SyslogCursor(stateDirectory: directory)
        for text in ["medtunnel-syslog-cursor v1 next=12", "", "next=12\n", "medtunnel-syslog-cursor v1 next=-3\n"] {
            try Data(text.utf8).write(to: URL(fileURLWithPath: cursor.path))
            guard case .malformed = cursor.load() else {
                Issue.record("'\(text)' read as \(cursor.load())")
                continue
            }
        }
    }

    @Test("a cursor in a directory that does not exist is refused with .cursorFile")
    func unwritable() {
        let cursor = SyslogCursor(stateDirectory: "/nonexistent-\(UUID().uuidString)")
        #expect(throws: SyslogError(.cursorFile, "")) { try cursor.store(1) }
    }
}
