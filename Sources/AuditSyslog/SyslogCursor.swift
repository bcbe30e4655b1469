import AuditLog
import Foundation

/// The stream's durable position, `STATE/syslog.cursor`: the index of the first entry not yet
/// known to have reached the collector. One line, mode 0600:
///
///     medtunnel-syslog-cursor v1 next=17
///
/// Written atomically (`StateFiles.replaceDurably`: temporary file, fsync, rename, fsync of the
/// directory), so the file is always a whole old or a whole new cursor; a temporary file torn by
/// a crash is never read (and is replaced by the next write). A cursor that is unreadable or
/// malformed reads as ``Loaded/malformed(_:)``: the stream then starts again from entry 0, since
/// a duplicate is recognisable by its index and a skipped entry is not.
public struct SyslogCursor: Sendable {
    public enum Loaded: Sendable, Equatable {
        /// No cursor yet: nothing was ever streamed from this state directory.
        case absent
        case next(UInt64)
        case malformed(String)
    }

    static let prefix = "medtunnel-syslog-cursor v1 next="
    public let path: String

    public init(stateDirectory: String) { self.path = "\(stateDirectory)/syslog.cursor" }

    public init(path: String) { self.path = path }

    public func load() -> Loaded {
        guard FileManager.default.fileExists(atPath: self.path) else { return .absent }
        guard let data = FileManager.default.contents(atPath: self.path) else {
            return .malformed("\(self.path) is unreadable")
        }
        let text = String(decoding: data, as: UTF8.self)
        guard text.hasPrefix(Self.prefix), text.hasSuffix("\n"),
            let next = UInt64(text.dropFirst(Self.prefix.count).dropLast())
        else {
            return .malformed("\(self.path) is not '\(Self.prefix)N' (\(data.count) bytes)")
        }
        return .next(next)
    }

    public func store(_ next: UInt64) throws(SyslogError) {
        do {
            try StateFiles.replaceDurably(Array("\(Self.prefix)\(next)\n".utf8), at: self.path, permissions: 0o600)
        } catch {
            throw SyslogError(.cursorFile, "cannot write \(self.path): \(error); check the state directory is writable")
        }
    }
}
