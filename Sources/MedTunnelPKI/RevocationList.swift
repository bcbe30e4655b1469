public import Foundation
public import MedTunnelIdentity
import Synchronization

/// The list of revoked pumps and phones, `DIR/revoked.txt`: one line per revocation,
/// `URI<TAB>UNIX-SECONDS<TAB>REASON`. The gateway consults it at every handshake, full or
/// resumed, through ``RevocationListFile``, which re-reads the file when it changes.
public struct RevocationList: Sendable, Equatable {
    public private(set) var revoked: Set<DeviceIdentity> = []

    public init() {}

    public init(parsing text: String) {
        for line in text.split(separator: "\n") {
            let uri = line.split(separator: "\t", maxSplits: 1).first.map(String.init) ?? ""
            if let identity = DeviceIdentity(uri: uri) { self.revoked.insert(identity) }
        }
    }

    public func contains(_ identity: DeviceIdentity) -> Bool { self.revoked.contains(identity) }

    /// Reads the list; a missing file is an empty list.
    public static func load(from directory: PKIDirectory) throws -> RevocationList {
        guard FileManager.default.fileExists(atPath: directory.revocationList.path) else { return RevocationList() }
        return RevocationList(parsing: try directory.read(directory.revocationList))
    }

    /// Adds `identity` to the list in `directory`, durably. Revoking twice is not an error.
    public static func revoke(
        _ identity: DeviceIdentity,
        reason: String,
        in directory: PKIDirectory,
        now: Date = Date()
    )
        throws
    {
        let existing =
            FileManager.default.fileExists(atPath: directory.revocationList.path)
            ? try directory.read(directory.revocationList) : ""
        if RevocationList(parsing: existing).contains(identity) { return }
        let cleanReason = reason.map { $0 == "\t" || $0 == "\n" ? " " : $0 }
        let line = "\(identity.uri)\t\(Int(now.timeIntervalSince1970))\t\(String(cleanReason))\n"
        try writeFileDurably(existing + line, to: directory.revocationList, mode: 0o644)
    }
}

/// A revocation list that follows its file: each lookup checks the file's modification
/// time and size (one `stat`) and re-reads it when either changed. A file that cannot be
/// read makes every lookup answer "revoked": revocation fails closed.
public final class RevocationListFile: Sendable {
    private struct Snapshot {
        var list = RevocationList()
        var stamp: (mtime: Int, nsec: Int, size: Int)? = nil
        var unreadable = false
    }
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
        let stamp = (mtime: Int(info.st_mtim.tv_sec), nsec: Int(info.st_mtim.tv_nsec), size: Int(info.st_size))
        if let old = snapshot.stamp, old == stamp, !snapshot.unreadable { return }
        do {
            snapshot.list = try RevocationList.load(from: self.directory)
            snapshot.stamp = stamp
            snapshot.unreadable = false
        } catch {
            snapshot.unreadable = true
        }
    }
}
