import ArgumentParser
import AuditLog
import Foundation
import MedTunnelIdentity
import MedTunnelPKI
import SafetyPolicy

extension PKICommand {
    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Revoke a pump (--serial) or phone (--phone-id): the gateway refuses it at its next handshake and closes its live sessions.",
            discussion: """
                Only a pump or phone this PKI enrolled can be revoked (DIR/gateway/pumps/SERIAL.pem, \
                DIR/gateway/phones/ID.pem): a mistyped serial is an error, not a silent no-op. The revocation is \
                appended to the gateway's audit log (pki.revoked, actor --by with role incident) first, \
                then to DIR/gateway/revoked.txt; if the audit log cannot take it, nothing is revoked. Revoking a \
                revoked pump or phone changes nothing and says since when. Undo with `pki unrevoke`.
                Example: medtunnel pki revoke --dir pki --serial PUMP-0001 --reason "reported stolen" \
                --by carol --state-dir state
                """
        )
        @OptionGroup var options: RevocationOptions

        func run() async throws {
            try await reportingRevocationErrors("pki revoke", unchanged: "nothing was revoked") {
                let identity = self.options.identity
                let audit = try await self.options.openAuditLog("pki revoke")
                let actor = try self.options.actor()
                var auditIndex: UInt64?
                let outcome = try await self.options.afterAudit(index: auditIndex, "pki revoke") {
                    try await RevocationList.revoke(
                        identity,
                        reason: self.options.reason,
                        in: try self.options.location.gateway(),
                        now: Date()
                    ) { change in
                        auditIndex = try await audit.append(try change.auditEvent(by: actor)).index
                    }
                }
                switch outcome {
                case .revoked:
                    let effect = identity.kind == "pump" ? "its live session" : "its uplinks"
                    Console.out(
                        "revoked \(identity) (audit entry \(auditIndex.map(String.init) ?? "?")): the gateway refuses "
                            + "it at its next handshake and closes \(effect) within a second"
                    )
                case .alreadyRevoked(let entry):
                    Console.out("\(identity) already revoked \(entry.since); nothing changed")
                }
            }
        }
    }

    struct Unrevoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Lift the revocation of a pump (--serial) or phone (--phone-id): it may connect again.",
            discussion: """
                Removes its line from DIR/gateway/revoked.txt, atomically and durably, after appending \
                pki.unrevoked to the gateway's audit log (actor --by with role incident); if the audit \
                log cannot take it, it stays revoked. A pump or phone that is not revoked is an error.
                Example: medtunnel pki unrevoke --dir pki --serial PUMP-0001 --reason "found, re-checked" \
                --by carol --state-dir state
                """
        )
        @OptionGroup var options: RevocationOptions

        func run() async throws {
            try await reportingRevocationErrors("pki unrevoke", unchanged: "it is still revoked") {
                let identity = self.options.identity
                let audit = try await self.options.openAuditLog("pki unrevoke")
                let actor = try self.options.actor()
                var auditIndex: UInt64?
                let lifted = try await self.options.afterAudit(index: auditIndex, "pki unrevoke") {
                    try await RevocationList.unrevoke(
                        identity,
                        reason: self.options.reason,
                        in: try self.options.location.gateway(),
                        now: Date()
                    ) { change in
                        auditIndex = try await audit.append(try change.auditEvent(by: actor)).index
                    }
                }
                Console.out(
                    "unrevoked \(identity), revoked \(lifted.since) (audit entry \(auditIndex.map(String.init) ?? "?")): "
                        + "it may connect again"
                )
            }
        }
    }
}

/// What `pki revoke` and `pki unrevoke` take: whom, why, who decides, and the two places the
/// change is written (the gateway's audit log, then the PKI's revocation list).
struct RevocationOptions: ParsableArguments {
    @OptionGroup var location: PKILocation
    @Option(help: "The pump serial.") var serial: String?
    @Option(name: .customLong("phone-id"), help: "The phone id.") var phoneID: String?
    @Option(help: "Why (required; recorded in the audit log).") var reason: String
    @Option(help: "Who decides, as recorded in the audit log (required; role incident).") var by: String
    @Option(
        name: .customLong("state-dir"),
        help:
            "The gateway's state directory, holding its audit log (audit.sqlite or its database binding); never created here."
    )
    var stateDirectory: String

    /// The gateway's audit log, for one append: beside a running gateway this command holds
    /// writers.lock shared, alone it holds the directory (``StateDirectoryAccess``), so no
    /// gateway's crash recovery or restore runs under the revocation. A directory that does not
    /// exist is the audit log's own error (`.noLog`, naming the path): it is never created here.
    func openAuditLog(_ command: String) async throws -> AuditLog {
        if FileManager.default.fileExists(atPath: self.stateDirectory) {
            _ = try StateDirectoryAccess.forWriting(self.stateDirectory, reportingAs: command)
        }
        return try await AuditLog.openExisting(stateDirectory: self.stateDirectory)
    }

    func validate() throws {
        guard (self.serial == nil) != (self.phoneID == nil) else {
            throw ValidationError("give exactly one of --serial or --phone-id")
        }
        guard !self.reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw ValidationError(
                "--reason is empty: say why (it is kept in the audit log), e.g. --reason \"reported stolen\""
            )
        }
        let by = self.by.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !by.isEmpty, by.utf8.count <= AuditEvent.maximumFieldBytes else {
            throw ValidationError(
                "--by '\(self.by)': name who decides (1 to \(AuditEvent.maximumFieldBytes) bytes), e.g. --by carol"
            )
        }
    }

    var identity: DeviceIdentity { self.serial.map { .pump(serial: $0) } ?? .phone(id: self.phoneID ?? "") }

    /// Runs `change`; when it fails after its audit entry was written (`index()` is set), says so
    /// before the error is reported: the entry stays (the log is append-only) and the list is unchanged.
    func afterAudit<T>(
        index: @autoclosure () -> UInt64?,
        _ command: String,
        _ change: () async throws -> T
    ) async throws -> T {
        do {
            return try await change()
        } catch {
            if let index = index() {
                Console.err(
                    "\(command): the audit log records the change (entry \(index)) but \((try? self.location.gateway().revocationList.path) ?? "revoked.txt") "
                        + "did not change; fix the cause below and run the command again"
                )
            }
            throw error
        }
    }

    func actor() throws -> AuditActor {
        try AuditActor(id: self.by.trimmingCharacters(in: .whitespacesAndNewlines), role: ActorRole.incident.rawValue)
    }
}

extension RevocationChange {
    /// The audit entry written before the revocation list changes: kind `pki.revoked` or
    /// `pki.unrevoked`, the pump serial or phone id, and the payload
    /// `{"at":MS,"identity":URI,"op":"revoke"|"unrevoke","reason":…,"schema":"medtunnel.pki.v1"}`.
    func auditEvent(by actor: AuditActor) throws -> AuditEvent {
        let at = Int64((self.time.timeIntervalSince1970 * 1000).rounded(.down))
        let payload = try Console.json([
            "schema": "medtunnel.pki.v1", "op": self.operation.rawValue, "identity": self.identity.uri,
            "reason": self.reason, "at": at,
        ])
        let pump: String?
        let phone: String?
        switch self.identity {
        case .pump(let serial): (pump, phone) = (serial, nil)
        case .phone(let id): (pump, phone) = (nil, id)
        }
        return try AuditEvent(
            timeMilliseconds: at,
            actor: actor,
            kind: self.operation == .revoke ? .pkiRevoked : .pkiUnrevoked,
            pumpSerial: pump,
            phoneID: phone,
            payload: Array(payload.utf8)
        )
    }
}

extension RevocationList.Entry {
    /// "since 2026-01-02T03:04:05.000Z (reported stolen)", for messages.
    var since: String {
        let time = self.revokedAt.map { "since " + isoTime(Int64($0.timeIntervalSince1970) * 1000) } ?? "(time unknown)"
        return self.reason.isEmpty ? time : "\(time) (\(self.reason))"
    }
}

/// Runs `body`, ending the command with one line on stderr naming what was wrong: exit 2 for
/// bad input (a name, a reason, a state directory without an audit log), 1 for a refused change
/// (never issued, not revoked), 3 for storage or audit failures. Because the audit entry is
/// written before the list, an audit failure leaves the list `unchanged`.
func reportingRevocationErrors(
    _ command: String,
    unchanged: String,
    _ body: () async throws -> Void
) async throws {
    do {
        try await body()
    } catch let error as PKIError {
        Console.err("\(command): \(error.reason)")
        switch error.code {
        case .invalidName, .invalidReason: throw ExitCode(2)
        case .notIssued, .notRevoked: throw ExitCode(1)
        default: throw ExitCode(3)
        }
    } catch let error as AuditLogError {
        let source = error.code == .noLog ? "--state-dir" : "audit log"
        Console.err("\(command): \(source): \(error.reason); \(unchanged)")
        throw ExitCode(error.code == .noLog || error.code == .invalidEvent ? 2 : 3)
    }
}
