import AccessTokens
import Accounts
import ArgumentParser
import AuditLog
import Foundation
import StateBackup

/// `medtunnel token issue|revoke`: short-lived bearer tokens for the operator API.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Issue and revoke bearer tokens for the operator API.",
        subcommands: [Issue.self, Revoke.self]
    )
    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke one token (--jti) or every token of a user (--user) before they expire.",
            discussion: """
                Takes effect at the next request to a running gateway (STATE/tokens.sqlite, read \
                through a cache any change empties), then is recorded in the audit log \
                (auth.token_revoked). The token id (jti) is in the token's auth.login entry \
                (`medtunnel audit show --kind auth.login`). --user refuses every token of the user \
                issued up to now; new ones can be issued a second later.
                """
        )

        @OptionGroup var location: AccountsLocation

        @Option(help: "The id (jti) of the token to revoke.")
        var jti: String?

        @Option(help: "Revoke every token of this user issued up to now.")
        var user: String?

        func validate() throws {
            if (self.jti == nil) == (self.user == nil) {
                throw ValidationError("give exactly one of --jti ID (one token) and --user ID (all of a user's tokens)")
            }
        }

        func run() async throws {
            do {
                let (accounts, audit, mode) = try await self.location.openForWritingReportingMode()
                let store = try await TokenRevocationStore.forStateDirectory(self.location.stateDirectory)
                // Beside a gateway, an unlogged revocation may be one in flight (the gateway's API
                // or another command): logging it here would log it twice. The gateway recovered
                // at its start; a command running alone recovers here.
                if mode.isAlone { try await store.recover(audit: audit, now: CommandClock.now()) }
                let actor = try self.location.auditActor()
                if let user = self.user {
                    guard try await accounts.account(id: user) != nil else {
                        Console.err("token revoke: user '\(user)': no such account; see `medtunnel user list`")
                        throw ExitCode(1)
                    }
                    let outcome = try await store.revokeAll(
                        ofUser: user,
                        by: actor,
                        now: CommandClock.now(),
                        audit: audit
                    )
                    Console.out("tokens of \(user) revoked (audit entry \(outcome.auditIndex))")
                } else if let jti = self.jti {
                    let outcome = try await store.revoke(
                        tokenID: jti,
                        userID: "",
                        by: actor,
                        now: CommandClock.now(),
                        audit: audit
                    )
                    Console.out("token \(jti) revoked (audit entry \(outcome.auditIndex))")
                }
            } catch let error as TokenError {
                Console.err("token revoke: \(error.reason)")
                throw ExitCode(error.code == .invalidRevocation ? 2 : 3)
            } catch let error as AccountError {
                Console.err("token revoke: \(error.reason)")
                throw ExitCode(3)
            } catch let error as AuditLogError {
                Console.err("token revoke: audit log: \(error.reason)")
                throw ExitCode(3)
            } catch let error as StateBackupError {
                Console.err("token revoke: \(error.reason)")
                throw ExitCode(error.code == .inUse ? 1 : 3)
            }
        }
    }

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a signed token (ES256 JWT) for an existing, enabled account.",
            discussion: """
                The token is signed with the state directory's token key (token-signing-key.pem, \
                created on first use, mode 0600) and names only the user: the role and attributes \
                are read from the accounts at every request. Only the token is printed, on stdout; \
                the issue is recorded in the audit log (auth.login, with the token's id, never the token).
                """
        )

        @Option(name: .customLong("state-dir"), help: "The gateway's state directory.")
        var stateDirectory: String

        @Option(help: "The user id.")
        var user: String

        @Option(help: "Lifetime: a duration in whole seconds (90s, 15m, 12h); at most \(TokenLifetime.maximum).")
        var ttl: String = TokenLifetime.default.description

        func run() async throws {
            do {
                let lifetime = try TokenLifetime(parsing: self.ttl)
                let mode = try StateDirectoryAccess.forWriting(self.stateDirectory)
                let key = try TokenSigningKey.load(stateDirectory: self.stateDirectory)
                let accounts = try await AccountStore.forStateDirectory(self.stateDirectory)
                let issuer = try await TokenIssuer(key: key, accounts: accounts)
                let issued = try await issuer.issue(to: self.user, lifetime: lifetime, now: CommandClock.now())
                let audit =
                    mode.isAlone
                    ? try await AuditLog.open(stateDirectory: self.stateDirectory)
                    : try await AuditLog.openExisting(stateDirectory: self.stateDirectory)
                let payload = try Console.json([
                    "user": issued.userID, "tokenId": issued.tokenID, "via": "cli",
                    "issuedAt": issued.issuedAt.millisecondsSinceEpoch,
                    "expiresAt": issued.expiresAt.millisecondsSinceEpoch,
                ])
                _ = try await audit.append(
                    try AuditEvent(
                        timeMilliseconds: issued.issuedAt.millisecondsSinceEpoch,
                        actor: try AuditActor(id: issued.userID, role: issued.role.rawValue),
                        kind: .login,
                        payload: Array(payload.utf8)
                    )
                )
                Console.out(issued.token)
            } catch let error as TokenError {
                Console.err("token issue: \(error.reason)")
                switch error.code {
                case .unknownUser, .disabledUser: throw ExitCode(1)
                case .signingKey, .signingFailed: throw ExitCode(3)
                default: throw ExitCode(2)
                }
            } catch let error as AccountError {
                Console.err("token issue: \(error.reason)")
                throw ExitCode(3)
            } catch let error as AuditLogError {
                Console.err("token issue: audit log: \(error.reason)")
                throw ExitCode(3)
            } catch let error as StateBackupError {
                Console.err("token issue: \(error.reason)")
                throw ExitCode(error.code == .inUse ? 1 : 3)
            }
        }
    }
}
