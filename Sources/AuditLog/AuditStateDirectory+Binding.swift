import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The binding of a state directory to a database holding its audit log: `audit-database.url`,
/// one line, the URL as given to `medtunnel db attach`. The URL may carry a password, so the
/// file is written owner-only and a file readable by group or others is refused, as the
/// signing key is; its contents are never put in a message.
extension AuditStateDirectory {
    public var bindingPath: String { "\(self.path)/audit-database.url" }

    /// The bound database's URL, or nil when the log is the directory's SQLite store.
    public func binding() throws -> String? {
        var info = stat()
        guard stat(self.bindingPath, &info) == 0 else {
            if errno == ENOENT { return nil }
            throw StateFiles.posixError("stat \(self.bindingPath)", errno)
        }
        guard info.st_mode & 0o077 == 0 else {
            throw AuditLogError(
                .storageFailure,
                "\(self.bindingPath): readable by group or others (mode \(String(info.st_mode & 0o777, radix: 8))) "
                    + "and it may hold the database's password; run chmod 600"
            )
        }
        guard let text = try? String(contentsOfFile: self.bindingPath, encoding: .utf8) else {
            throw AuditLogError(.storageFailure, "\(self.bindingPath): unreadable")
        }
        let url = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !url.isEmpty else {
            throw AuditLogError(
                .storageFailure,
                "\(self.bindingPath) is empty: run medtunnel db attach --state-dir \(self.path) --database URL again"
            )
        }
        return url
    }

    /// Writes the binding atomically and durably (mode 0600). Callers check the database first.
    public func bind(to url: String) throws {
        try self.create()
        try StateFiles.replaceDurably(Array((url + "\n").utf8), at: self.bindingPath, permissions: 0o600)
    }
}
