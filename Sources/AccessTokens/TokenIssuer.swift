public import Accounts
import Foundation
import JWTKit
public import SafetyPolicy
public import TherapyModel

/// A token as issued. `description` leaves the token out, so it cannot end up in a log by accident.
public struct IssuedToken: Sendable, Hashable, CustomStringConvertible {
    /// The compact JWT. Print it only to the user who asked for it.
    public let token: String
    /// `jti`: random, names the token in the audit log without revealing it.
    public let tokenID: String
    public let userID: String
    /// The account's role when the token was issued (for the audit entry; the token itself
    /// carries no role).
    public let role: ActorRole
    public let issuedAt: Timestamp
    public let expiresAt: Timestamp

    public var description: String { "token \(tokenID) for \(userID), expires \(expiresAt)" }
}

/// Signs bearer tokens for existing, enabled accounts.
public struct TokenIssuer: Sendable {
    private let keys: JWTKeyCollection
    private let keyID: JWKIdentifier
    private let accounts: AccountStore
    public let settings: TokenSettings

    public init(key: TokenSigningKey, accounts: AccountStore, settings: TokenSettings = TokenSettings()) async throws {
        self.keys = JWTKeyCollection()
        self.keyID = JWKIdentifier(string: key.keyID)
        do {
            await keys.add(ecdsa: try ES256PrivateKey(backing: key.privateKey), kid: keyID)
        } catch {
            throw TokenError(.signingKey, "token signing key: \(error)")
        }
        self.accounts = accounts
        self.settings = settings
    }

    /// A token for `userID` valid from `now` for `lifetime`. Throws `unknownUser` or
    /// `disabledUser` (no token is ever issued for an account that could not use it).
    public func issue(to userID: String, lifetime: TokenLifetime, now: Timestamp) async throws -> IssuedToken {
        guard let account = try await accounts.account(id: userID) else {
            throw TokenError(.unknownUser, "user '\(userID)': no such account; add it with `medtunnel user add`")
        }
        guard !account.isDisabled else {
            throw TokenError(.disabledUser, "user '\(userID)': the account is disabled; no token is issued for it")
        }
        let issuedSeconds = now.millisecondsSinceEpoch / 1000
        let expirySeconds = issuedSeconds + lifetime.seconds
        let tokenID = Base64URL.encode((0..<16).map { _ in UInt8.random(in: .min ... .max) })
        let claims = TokenClaims(
            sub: SubjectClaim(value: userID),
            iat: IssuedAtClaim(value: Date(timeIntervalSince1970: Double(issuedSeconds))),
            exp: ExpirationClaim(value: Date(timeIntervalSince1970: Double(expirySeconds))),
            jti: IDClaim(value: tokenID),
            aud: AudienceClaim(value: [settings.audience]),
            iss: IssuerClaim(value: settings.issuer)
        )
        let token: String
        do {
            token = try await keys.sign(claims, kid: keyID)
        } catch {
            throw TokenError(.signingFailed, "sign a token for '\(userID)': \(error)")
        }
        return IssuedToken(
            token: token,
            tokenID: tokenID,
            userID: userID,
            role: account.role,
            issuedAt: Timestamp(millisecondsSinceEpoch: issuedSeconds * 1000),
            expiresAt: Timestamp(millisecondsSinceEpoch: expirySeconds * 1000)
        )
    }
}
