public import Foundation
public import MedTunnelIdentity
import Synchronization

/// The list of revoked pumps and phones, `DIR/revoked.txt`: one line per revocation,
/// `URI<TAB>UNIX-SECONDS<TAB>REASON`. The gateway consults it at every handshake, full or
/// resumed, through ``RevocationListFile``, which re-reads the file when it changes.
/// Lines are added by ``revoke(_:reason:in:now:record:)`` and removed by
/// ``unrevoke(_:reason:in:now:record:)`` (`RevocationList+Changes.swift`).
public struct RevocationList: Sendable, Equatable {
    /// One revocation: a line of the list.
    public struct Entry: Sendable, Equatable {
        public let identity: DeviceIdentity
        /// When it was revoked (whole seconds); nil when the line's time cannot be read.
        public let revokedAt: Date?
        /// Why, as written in the list (tabs and line breaks replaced by spaces).
        public let reason: String

        public init(identity: DeviceIdentity, revokedAt: Date?, reason: String) {
            self.identity = identity
            self.revokedAt = revokedAt
            self.reason = reason
        }

        /// Parses one line; nil for a line that does not start with a device URI.
        init?(line: Substring) {
            let fields = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
            guard let identity = DeviceIdentity(uri: String(fields[0])) else { return nil }
            self.identity = identity
            self.revokedAt = fields.count > 1 ? Int64(fields[1]).map { Date(timeIntervalSince1970: Double($0)) } : nil
            self.reason = fields.count > 2 ? String(fields[2]) : ""
        }

        /// The line as written to the file, without its line break.
        var line: String {
            let seconds = self.revokedAt.map { String(Int64($0.timeIntervalSince1970.rounded(.down))) } ?? ""
            return "\(self.identity.uri)\t\(seconds)\t\(self.reason)"
        }
    }

    /// Per revoked identity, its first line in the file.
    public private(set) var entries: [DeviceIdentity: Entry] = [:]

    public init() {}

    public init(parsing text: String) {
        for line in text.split(separator: "\n") {
            guard let entry = Entry(line: line), self.entries[entry.identity] == nil else { continue }
            self.entries[entry.identity] = entry
        }
    }

    /// Every revoked pump and phone.
    public var revoked: Set<DeviceIdentity> { Set(self.entries.keys) }

    public func contains(_ identity: DeviceIdentity) -> Bool { self.entries[identity] != nil }

    /// When and why `identity` was revoked; nil when it is not.
    public func entry(for identity: DeviceIdentity) -> Entry? { self.entries[identity] }

    /// Reads the list; a missing file is an empty list.
    public static func load(from directory: PKIDirectory) throws -> RevocationList {
        guard FileManager.default.fileExists(atPath: directory.revocationList.path) else { return RevocationList() }
        return RevocationList(parsing: try directory.read(directory.revocationList))
    }
}

/// A revocation list that follows its file: each lookup checks the file's identity, modification
/// time and size (one `stat`) and re-reads it when any changed. Lines are removed as well as
/// added (``RevocationList/unrevoke(_:reason:in:now:record:)``), so two versions can have the
/// same size within one tick of the file system's clock: a version read less than
/// ``settleInterval`` after it was written is read again at the next lookup. A file that cannot
/// be read makes every lookup answer "revoked": revocation fails closed.
public final class RevocationListFile: Sendable {
    private struct Stamp: Equatable {
        var inode: UInt64
        var mtime: Int
        var nsec: Int
        var size: Int
    }
    private struct Snapshot {
        var list = RevocationList()
        var stamp: Stamp? = nil
        /// Whether the file was older than ``settleInterval`` when read (else it is read again).
        var settled = false
        var unreadable = false
    }
    /// How old a version must be to be trusted by its stamp alone.
    public static let settleInterval: Duration = .seconds(2)
    private let directory: PKIDirectory
    private let state = Mutex(Snapshot())

    public init(directory: PKIDirectory) {
        self.directory = directory
    }

    public func isRevoked(_ identity: DeviceIdentity) -> Bool {
        self.state.withLock { snapshot in
            self.refresh(&snapshot)
            return snapshot.unreadable || snapshot.list.contains(identity)
        }
    }

    /// The list as the file says now; nil when the file cannot be read (every lookup then
    /// answers "revoked").
    public func current() -> RevocationList? {
        self.state.withLock { snapshot in
            self.refresh(&snapshot)
            return snapshot.unreadable ? nil : snapshot.list
        }
    }

    private func refresh(_ snapshot: inout Snapshot) {
        var info = stat()
        guard stat(self.directory.revocationList.path, &info) == 0 else {
            // No file: nothing revoked yet.
            snapshot = Snapshot(list: RevocationList(), stamp: nil, unreadable: errno != ENOENT)
            return
        }
        let stamp = Stamp(
            inode: UInt64(info.st_ino),
            mtime: Int(info.st_mtim.tv_sec),
            nsec: Int(info.st_mtim.tv_nsec),
            size: Int(info.st_size)
        )
        if snapshot.stamp == stamp, snapshot.settled, !snapshot.unreadable { return }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let age = Duration.seconds(now.tv_sec - stamp.mtime) + .nanoseconds(now.tv_nsec - stamp.nsec)
        do {
            snapshot.list = try RevocationList.load(from: self.directory)
            snapshot.stamp = stamp
            snapshot.settled = age >= Self.settleInterval
            snapshot.unreadable = false
        } catch {
            snapshot.unreadable = true
        }
    }
}
