import Accounts
import ArgumentParser
import AuditLog
import Foundation
import PasskeyStore
import Passkeys

extension UserCommand {
    /// `medtunnel user invite`: a one-time link for a user to register a passkey for the web
    /// console. Only the token's SHA-256 is stored (STATE/passkeys.sqlite); the link is printed
    /// once, and `account.invited` is in the audit log before it is.
    struct Invite: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a one-time link (valid 24 h) for a user to register a console passkey.",
            discussion: """
                The account must exist and be enabled. The link works once: registering a passkey \
                uses it up. Give it to the user by a channel you trust; whoever opens it first \
                registers a passkey for this account.
                Example: medtunnel user invite --state-dir state --id olga --origin https://console.example.org
                """
        )

        @OptionGroup var location: AccountsLocation

        @Option(help: "The user id.")
        var id: String

        @Option(
            help: "The console's origin (https://HOST[:PORT], the gateway's --console-origin) the link starts with."
        )
        var origin: String?

        func run() async throws {
            var relyingParty: RelyingParty?
            if let origin = self.origin {
                do {
                    relyingParty = try RelyingParty(origin: origin)
                } catch {
                    Console.err("user invite: --origin: \(error.reason)")
                    throw ExitCode(2)
                }
            }
            try await reportingAccountErrors("user invite") {
                let (accounts, audit) = try await self.location.openForWriting()
                guard let account = try await accounts.account(id: self.id) else {
                    throw AccountError(
                        .unknownUser,
                        "user '\(self.id)': no such account; add it with `medtunnel user add`"
                    )
                }
                guard !account.isDisabled else {
                    throw AccountError(.alreadyDisabled, "user '\(self.id)': the account is disabled; enable it first")
                }
                let store: PasskeyStore
                do {
                    store = try await PasskeyStore.forStateDirectory(self.location.stateDirectory)
                } catch let error as PasskeyError {
                    throw AccountError(.storageFailure, error.reason)
                }
                let (token, expires, entry) = try await UserCommand.issueInvitation(
                    to: account.id,
                    store: store,
                    audit: audit,
                    by: try self.location.auditActor()
                )
                let expiry = Date(timeIntervalSince1970: Double(expires / 1000)).ISO8601Format()
                Console.out("\(relyingParty?.origin ?? "")/console/invite/\(token)")
                Console.err(
                    "invitation for \(account.id): valid once, until \(expiry) (audit entry \(entry.index))"
                        + (relyingParty == nil ? "; prefix the console's origin (--origin)" : "")
                )
            }
        }
    }

    /// Makes a one-time invitation for `userID`: audited (`account.invited`) before it is stored,
    /// so an invitation that works is always in the log. Answers the token, its expiry (ms) and
    /// the audit entry.
    static func issueInvitation(
        to userID: String,
        store: PasskeyStore,
        audit: AuditLog,
        by actor: AuditActor
    ) async throws -> (token: String, expires: Int64, entry: AuditLog.Receipt) {
        var generator = SystemRandomNumberGenerator()
        let token = PasskeyStore.newToken(using: &generator)
        let now = CommandClock.now().millisecondsSinceEpoch
        let expires = now + PasskeyStore.invitationLifetimeMilliseconds
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let payload = InvitationRecord(
            user: userID,
            invitation: PasskeyStore.reference(ofToken: token),
            expiresAt: expires
        )
        let entry = try await audit.append(
            try AuditEvent(
                timeMilliseconds: now,
                actor: actor,
                kind: .accountInvited,
                payload: Array(try encoder.encode(payload))
            )
        )
        do {
            try await store.addInvitation(token: token, userID: userID, nowMilliseconds: now)
        } catch let error as PasskeyError {
            throw AccountError(.storageFailure, error.reason)
        }
        return (token, expires, entry)
    }

    /// The payload of `account.invited`: who, which invitation (hash prefix), until when (ms).
    struct InvitationRecord: Encodable {
        let user: String
        let invitation: String
        let expiresAt: Int64
    }
}
