public import Foundation
public import MedTunnelIdentity

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A change to the revocation list, handed to the caller's record (the audit log) before the
/// list changes.
public struct RevocationChange: Sendable, Equatable {
    public enum Operation: String, Sendable {
        case revoke
        case unrevoke
    }

    public let operation: Operation
    public let identity: DeviceIdentity
    /// Why: for a revocation, the reason written into the list; for an unrevocation, why it is lifted.
    public let reason: String
    public let time: Date
}

extension RevocationList {
    /// What ``revoke(_:reason:in:now:record:)`` did.
    public enum RevokeOutcome: Sendable, Equatable {
        /// The identity is now in the list with this entry.
        case revoked(Entry)
        /// The identity was already in the list (since `Entry.revokedAt`); nothing changed.
        case alreadyRevoked(Entry)
    }

    /// Revokes `identity` in `directory`, durably.
    ///
    /// Refuses a pump or phone the PKI never issued a certificate to (`.notIssued`: a mistyped
    /// serial must not pass silently) and an empty reason (`.invalidReason`). Revoking a revoked
    /// identity changes nothing and is reported as `.alreadyRevoked`. Otherwise `record` gets the
    /// change first (the audit log: it must be durable when `record` returns), then the list is
    /// written; if `record` throws, the list is unchanged and its error propagates. Concurrent
    /// changes to the same list, from any process, are serialized by a lock on the PKI directory.
    public static func revoke(
        _ identity: DeviceIdentity,
        reason: String,
        in directory: PKIDirectory,
        now: Date = Date(),
        record: (RevocationChange) async throws -> Void
    ) async throws -> RevokeOutcome {
        try checkName(identity)
        let reason = try checkedReason(reason, for: "revoking \(identity)")
        guard FileManager.default.fileExists(atPath: directory.root.path) else { throw notIssued(identity, directory) }
        return try await directory.withRevocationLock {
            let text = try directory.revocationListText()
            if let entry = RevocationList(parsing: text).entry(for: identity) { return .alreadyRevoked(entry) }
            guard FileManager.default.fileExists(atPath: directory.certificate(for: identity).path) else {
                throw notIssued(identity, directory)
            }
            let seconds = now.timeIntervalSince1970.rounded(.down)
            let entry = Entry(identity: identity, revokedAt: Date(timeIntervalSince1970: seconds), reason: reason)
            try await record(RevocationChange(operation: .revoke, identity: identity, reason: reason, time: now))
            let separator = text.isEmpty || text.hasSuffix("\n") ? "" : "\n"
            try writeFileDurably(text + separator + entry.line + "\n", to: directory.revocationList, mode: 0o644)
            return .revoked(entry)
        }
    }

    /// Takes `identity` out of the list in `directory`, atomically and durably (every line
    /// naming it goes; other lines are kept as they are), and returns the revocation it lifted.
    ///
    /// Refuses an identity that is not revoked (`.notRevoked`) and an empty reason
    /// (`.invalidReason`). `record` gets the change first, as for ``revoke(_:reason:in:now:record:)``;
    /// if it throws, the identity stays revoked.
    @discardableResult
    public static func unrevoke(
        _ identity: DeviceIdentity,
        reason: String,
        in directory: PKIDirectory,
        now: Date = Date(),
        record: (RevocationChange) async throws -> Void
    ) async throws -> Entry {
        try checkName(identity)
        let reason = try checkedReason(reason, for: "unrevoking \(identity)")
        guard FileManager.default.fileExists(atPath: directory.root.path) else {
            throw notRevoked(identity, directory)
        }
        return try await directory.withRevocationLock {
            let text = try directory.revocationListText()
            guard let entry = RevocationList(parsing: text).entry(for: identity) else {
                throw notRevoked(identity, directory)
            }
            try await record(RevocationChange(operation: .unrevoke, identity: identity, reason: reason, time: now))
            let kept = text.split(separator: "\n").filter { Entry(line: $0)?.identity != identity }
            let remaining = kept.map { $0 + "\n" }.joined()
            try writeFileDurably(remaining, to: directory.revocationList, mode: 0o644)
            return entry
        }
    }

    private static func checkName(_ identity: DeviceIdentity) throws {
        if let problem = DeviceIdentity.validationProblem(identity.name) {
            throw PKIError(.invalidName, "\(identity.kind) name '\(identity.name)' \(problem)")
        }
    }

    /// The reason trimmed, with tabs and line breaks made spaces (the list is one line per entry).
    private static func checkedReason(_ reason: String, for change: String) throws -> String {
        let trimmed = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else {
            throw PKIError(
                .invalidReason,
                "the reason for \(change) is empty: say why (it is kept in the audit log), e.g. --reason \"reported stolen\""
            )
        }
        return String(trimmed.map { $0.isNewline || $0 == "\t" ? " " : $0 })
    }

    private static func notIssued(_ identity: DeviceIdentity, _ directory: PKIDirectory) -> PKIError {
        let enroll =
            switch identity {
            case .pump: "medtunnel pki sign-pump --csr FILE --model NAME --firmware VERSION"
            case .phone: "medtunnel pki sign-phone --csr FILE"
            }
        return PKIError(
            .notIssued,
            "\(identity) has no certificate from the PKI in \(directory.root.path) "
                + "(no \(directory.certificate(for: identity).path)): nothing was revoked; check the "
                + "\(identity.kind == "pump" ? "serial" : "phone id") and the PKI folder, or enroll it with `\(enroll)`"
        )
    }

    private static func notRevoked(_ identity: DeviceIdentity, _ directory: PKIDirectory) -> PKIError {
        PKIError(
            .notRevoked,
            "\(identity) is not revoked in \(directory.root.path) (not in \(directory.revocationList.path)): "
                + "nothing to unrevoke; check the \(identity.kind == "pump" ? "serial" : "phone id") and the PKI directory"
        )
    }
}

extension PKIDirectory {
    /// The list's text; "" when there is no list yet.
    func revocationListText() throws -> String {
        FileManager.default.fileExists(atPath: self.revocationList.path) ? try self.read(self.revocationList) : ""
    }

    /// Runs `body` holding an exclusive lock on the PKI directory (`flock`), so that read-modify-write
    /// changes of the revocation list, from this process or others, do not lose one another's lines.
    /// The lock is polled, never waited for in the kernel, so a holder suspended in `body` does not
    /// starve the threads it needs to resume.
    func withRevocationLock<T>(_ body: () async throws -> T) async throws -> T {
        let fd = open(self.root.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            throw PKIError(.writeFailed, "cannot open \(self.root.path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let clock = ContinuousClock()
        let deadline = clock.now + Self.revocationLockTimeout
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let error = errno
            guard error == EWOULDBLOCK || error == EINTR else {
                throw PKIError(.writeFailed, "cannot lock \(self.root.path): \(String(cString: strerror(error)))")
            }
            guard clock.now < deadline else {
                throw PKIError(
                    .writeFailed,
                    "\(self.root.path) stayed locked for \(Self.revocationLockTimeout) by another change of its "
                        + "revocation list: try again"
                )
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return try await body()
    }

    static let revocationLockTimeout: Duration = .seconds(30)
}
