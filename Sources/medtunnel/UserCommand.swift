import Accounts
import ArgumentParser
import AuditLog
import Foundation
import SafetyPolicy
import StateBackup
import TherapyModel

/// `medtunnel user …`: the accounts of the operator API, in `STATE/accounts.sqlite`. Every change
/// is in the audit log (`account.created`, `account.disabled`) before it is reported done.
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Add, list, disable and enable the accounts of the operator API.",
        subcommands: [Add.self, List.self, Disable.self, Enable.self, Invite.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an account with a role and attributes.",
            discussion: """
                Roles: \(ActorRole.allCases.map(\.rawValue).joined(separator: ", ")).
                Attributes (--attr KEY=VALUE, repeatable): patient=ID (a patient: exactly one, their id \
                in the prescription; a caregiver or clinician: each patient they act for), phone=ID (a \
                patient's own phone), control=NAME (narrows the role's controls). Operators, incident \
                staff and admins take none. A pump is bound to its patient by pairing (the pump's QR \
                code, POST /v1/pairings), not by an attribute.
                Example: medtunnel user add --state-dir state --id alice --role patient \
                --attr patient=patient-001 --attr phone=PHONE-1
                """
        )

        @OptionGroup var location: AccountsLocation

        @Option(help: "The user id (1-64 of A-Z a-z 0-9 . _ @ -); never reused.")
        var id: String

        @Option(help: "The role: \(ActorRole.allCases.map(\.rawValue).joined(separator: ", ")).")
        var role: String

        @Option(name: .customLong("attr"), help: "An attribute KEY=VALUE (repeatable).")
        var attributes: [String] = []

        func run() async throws {
            try await reportingAccountErrors("user add") {
                let role = try Account.role(named: self.role)
                try Account.validateID(self.id)
                let parsed = try self.attributes.map { text throws(AccountError) in try AccountAttribute(parsing: text)
                }
                let attributes = try AccountAttributes(parsed, for: role)
                let (store, audit) = try await self.location.openForWriting()
                let account = try await store.add(
                    id: self.id,
                    role: role,
                    attributes: attributes,
                    by: try self.location.auditActor(),
                    now: CommandClock.now(),
                    audit: audit
                )
                Console.out(
                    "user \(account.id) added: role \(account.role)"
                        + (attributes.all.isEmpty ? "" : ", \(attributes)")
                        + " (audit entry \(account.createdAuditIndex.map(String.init) ?? "?"))"
                )
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the accounts.")

        @Option(name: .customLong("state-dir"), help: "The gateway's state directory.")
        var stateDirectory: String

        @Option(help: "table or jsonl (one JSON object a line).")
        var format: AuditCommand.Show.Format = .table

        func run() async throws {
            try await reportingAccountErrors("user list") {
                let accounts = try await AccountStore.forStateDirectory(self.stateDirectory).accounts()
                if self.format == .jsonl {
                    for account in accounts {
                        Console.out(
                            try Console.json([
                                "id": account.id, "role": account.role.rawValue,
                                "attributes": account.attributes.all.map(\.description),
                                "createdAt": account.createdAt.millisecondsSinceEpoch,
                                "disabled": account.isDisabled,
                            ])
                        )
                    }
                    return
                }
                Console.out("ID                   ROLE        STATE     ATTRIBUTES")
                for account in accounts {
                    let state = account.isDisabled ? "disabled" : "active"
                    Console.out(
                        account.id.padding(toLength: max(20, account.id.count), withPad: " ", startingAt: 0) + " "
                            + account.role.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0) + " "
                            + state.padding(toLength: 9, withPad: " ", startingAt: 0) + " "
                            + account.attributes.description
                    )
                }
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Disable an account: its tokens stop working at the next request."
        )

        @OptionGroup var location: AccountsLocation

        @Option(help: "The user id.")
        var id: String

        func run() async throws {
            try await reportingAccountErrors("user disable") {
                let (store, audit) = try await self.location.openForWriting()
                let account = try await store.disable(
                    id: self.id,
                    by: try self.location.auditActor(),
                    now: CommandClock.now(),
                    audit: audit
                )
                Console.out("user \(account.id) disabled")
            }
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enable a disabled account again (its old tokens work again unless revoked).",
            discussion: "Logged (account.enabled) before it takes effect. Revoke the account's old tokens "
                + "first with `medtunnel token revoke --user ID` if they must not come back."
        )

        @OptionGroup var location: AccountsLocation

        @Option(help: "The user id.")
        var id: String

        func run() async throws {
            try await reportingAccountErrors("user enable") {
                let (store, audit) = try await self.location.openForWriting()
                let account = try await store.enable(
                    id: self.id,
                    by: try self.location.auditActor(),
                    now: CommandClock.now(),
                    audit: audit
                )
                Console.out("user \(account.id) enabled")
            }
        }
    }
}

/// The state directory and who is making the change, for writing commands.
struct AccountsLocation: ParsableArguments {
    @Option(name: .customLong("state-dir"), help: "The gateway's state directory (accounts.sqlite, its audit log).")
    var stateDirectory: String

    @Option(help: "Who is making the change, as recorded in the audit log (an admin's id).")
    var by: String = "local-admin"

    func auditActor() throws -> AuditActor {
        do {
            return try AuditActor(id: self.by, role: ActorRole.admin.rawValue)
        } catch let error as AuditLogError {
            throw AccountError(.invalidUserID, "--by '\(self.by)': \(error.reason)")
        }
    }

    /// Opens the audit log and the accounts, and settles anything a crash left pending.
    func openForWriting() async throws -> (AccountStore, AuditLog) {
        let (store, audit, _) = try await self.openForWritingReportingMode()
        return (store, audit)
    }

    /// As `openForWriting`, saying whether this command runs alone on the state directory (it
    /// then ran crash recovery) or beside a gateway (no recovery, nothing created; see
    /// `StateDirectoryAccess`).
    func openForWritingReportingMode() async throws -> (AccountStore, AuditLog, StateDirectoryAccess.Mode) {
        let mode = try StateDirectoryAccess.forWriting(self.stateDirectory)
        guard mode.isAlone else {
            let audit = try await AuditLog.openExisting(stateDirectory: self.stateDirectory)
            return (try await AccountStore.forStateDirectory(self.stateDirectory), audit, mode)
        }
        let directory = AuditStateDirectory(path: self.stateDirectory)
        if !FileManager.default.fileExists(atPath: directory.databasePath)
            && !FileManager.default.fileExists(atPath: directory.bindingPath)
        {
            // Not silent: a typo in --state-dir would otherwise start a second, empty store.
            Console.err(
                "note: \(self.stateDirectory) holds no gateway state yet; creating a new one there "
                    + "(check the path if a gateway already runs elsewhere)"
            )
        }
        let audit = try await AuditLog.open(stateDirectory: self.stateDirectory)
        let store = try await AccountStore.forStateDirectory(self.stateDirectory)
        let report = try await store.recover(audit: audit, now: CommandClock.now())
        if !report.isEmpty {
            Console.err(
                "accounts: recovered after an interrupted change: completed \(report.completed), "
                    + "dropped \(report.dropped), logged late \(report.loggedLate)"
            )
        }
        return (store, audit, mode)
    }
}

/// The system clock, read at the command line (libraries take time as a parameter).
enum CommandClock {
    static func now() -> Timestamp {
        Timestamp(millisecondsSinceEpoch: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))
    }
}

/// Runs `body`, ending the command with one line on stderr naming what was wrong:
/// exit 2 for bad input, 1 for a refused change (duplicate, unknown, already disabled), 3 for
/// storage or audit failures.
func reportingAccountErrors(_ command: String, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as AccountError {
        Console.err("\(command): \(error.reason)")
        switch error.code {
        case .duplicateUser, .unknownUser, .alreadyDisabled, .notDisabled: throw ExitCode(1)
        case .auditFailed, .storageFailure: throw ExitCode(3)
        default: throw ExitCode(2)
        }
    } catch let error as AuditLogError {
        Console.err("\(command): audit log: \(error.reason)")
        throw ExitCode(3)
    } catch let error as StateBackupError {
        Console.err("\(command): \(error.reason)")
        throw ExitCode(error.code == .inUse ? 1 : 3)
    }
}
