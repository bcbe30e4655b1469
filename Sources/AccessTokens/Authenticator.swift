public import Accounts
import Foundation
import JWTKit
public import SafetyPolicy
import Synchronization
public import TherapyModel

/// An authenticated request's actor.
public struct AuthenticatedUser: Sendable, Hashable {
    /// The account as stored now (not as it was when the token was issued).
    public let account: Account
    /// What the safety policy and the approval rules take.
    public let actor: PolicyActor
    /// `jti` of the token used, for the audit log.
    public let tokenID: String
    public let expiresAt: Timestamp
}

/// Turns an `Authorization` header value into the actor behind it, or the specific reason it
/// cannot (`AuthenticationError`, always an HTTP 401).
///
/// Checks, in order: present; `Bearer <token>`; a JWT whose header says ES256; the signature,
/// by this gateway's token key alone (the header's `kid` and `alg` never choose the key); the
/// claims against `now`: audience, issuer, expiry, issue time; then the account as the store
/// holds it now (its cache is emptied by any change to `accounts.sqlite`, from any process), so
/// a disabled account is refused from the next request on and a changed role or attribute
/// applies at once; then the token revocations (`TokenRevocationStore`, cached the same way), so
/// a revoked token is refused from the next request on.
public struct Authenticator: Sendable {
    /// Longest header value looked at; a real token is well under 1 KiB.
    public static let maximumHeaderBytes = 8192

    private let keys: JWTKeyCollection
    public let accounts: AccountStore
    /// Tokens revoked before their expiry; nil: none can be (tests of the token format alone).
    public let revocations: TokenRevocationStore?
    private let verified = VerifiedTokens()
    public let settings: TokenSettings

    public init(
        key: TokenSigningKey,
        accounts: AccountStore,
        revocations: TokenRevocationStore? = nil,
        settings: TokenSettings = TokenSettings()
    ) async throws {
        self.revocations = revocations
        self.keys = JWTKeyCollection()
        do {
            await keys.add(ecdsa: try ES256PublicKey(backing: key.privateKey.publicKey))
        } catch {
            throw TokenError(.signingKey, "token verification key: \(error)")
        }
        self.accounts = accounts
        self.settings = settings
    }

    public func authenticate(
        authorization: String?,
        now: Timestamp
    ) async throws(AuthenticationError)
        -> AuthenticatedUser
    {
        let credential = try Self.bearerCredential(authorization)
        let claims: TokenClaims
        if let known = verified.claims(of: credential) {
            claims = known
        } else {
            let token = try Self.checkedJWT(credential)
            claims = try await verifiedClaims(token)
            verified.insert(token, claims)
        }
        try check(claims, now: now)
        let userID = claims.sub.value
        let account: Account?
        do {
            account = try await accounts.account(id: userID)
        } catch {
            // The store failing is not the caller's fault, but no identity can be vouched for.
            throw AuthenticationError(.unavailable, "the account store could not be read; try again shortly")
        }
        guard let account else {
            throw AuthenticationError(.unknownUser, "the token's user '\(userID)' has no account")
        }
        guard !account.isDisabled else {
            throw AuthenticationError(.disabledUser, "the account '\(userID)' is disabled")
        }
        if let revocations {
            let state: TokenRevocationStore.Revocation
            do {
                state = try await revocations.state(tokenID: claims.jti.value, userID: userID)
            } catch {
                throw AuthenticationError(.unavailable, "the token revocations could not be read; try again shortly")
            }
            if state.refuses(issuedAtMilliseconds: Self.seconds(claims.iat.value) * 1000) {
                throw AuthenticationError(
                    .revoked,
                    "the token was revoked; get a new one with `medtunnel token issue`"
                )
            }
        }
        RequestIdentity.record(userID: account.id)
        return AuthenticatedUser(
            account: account,
            actor: account.policyActor,
            tokenID: claims.jti.value,
            expiresAt: Timestamp(millisecondsSinceEpoch: Self.seconds(claims.exp.value) * 1000)
        )
    }

    /// `Bearer <token>` → the token, not yet looked at.
    static func bearerCredential(_ authorization: String?) throws(AuthenticationError) -> Substring {
        guard let authorization, !authorization.allSatisfy(\.isWhitespace) else {
            throw AuthenticationError(.missing, "no Authorization header; send 'Authorization: Bearer <token>'")
        }
        guard authorization.utf8.count <= maximumHeaderBytes else {
            throw AuthenticationError(.malformed, "the Authorization header is over \(maximumHeaderBytes) bytes")
        }
        let parts = authorization.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw AuthenticationError(
                .malformed,
                "the Authorization header is not 'Bearer <token>'; get a token with `medtunnel token issue`"
            )
        }
        return parts[1]
    }

    /// The token, checked to be three base64url parts with an ES256 header.
    static func checkedJWT(_ token: Substring) throws(AuthenticationError) -> String {
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count == 3, segments.allSatisfy({ !$0.isEmpty }),
            let headerBytes = Base64URL.decode(segments[0]), Base64URL.decode(segments[1]) != nil,
            Base64URL.decode(segments[2]) != nil,
            let header = try? JSONSerialization.jsonObject(with: Data(headerBytes)) as? [String: Any]
        else {
            throw AuthenticationError(.malformed, "the bearer token is not a JWT (three base64url parts)")
        }
        guard header["alg"] as? String == "ES256" else {
            throw AuthenticationError(
                .badSignature,
                "the token is not signed with ES256 (alg \(header["alg"].map { "\($0)" } ?? "missing"))"
            )
        }
        return String(token)
    }

    private func verifiedClaims(_ token: String) async throws(AuthenticationError) -> TokenClaims {
        do {
            return try await keys.verify(token, as: TokenClaims.self)
        } catch let error as JWTError where error.errorType == .malformedToken {
            throw AuthenticationError(
                .malformed,
                "the token's claims are not MedTunnel claims (sub, iat, exp, jti, aud, iss)"
            )
        } catch {
            throw AuthenticationError(.badSignature, "the token's signature does not verify with this gateway's key")
        }
    }

    private func check(_ claims: TokenClaims, now: Timestamp) throws(AuthenticationError) {
        let nowSeconds = now.millisecondsSinceEpoch / 1000
        guard claims.aud.value.contains(settings.audience) else {
            throw AuthenticationError(
                .wrongAudience,
                "the token is for \(claims.aud.value), not \(settings.audience); get a token for this API"
            )
        }
        guard claims.iss.value == settings.issuer else {
            throw AuthenticationError(.wrongIssuer, "the token was issued by '\(claims.iss.value)', not this gateway")
        }
        // Compared in milliseconds: a token expiring at second S is refused from S.000 on.
        guard now.millisecondsSinceEpoch < Self.seconds(claims.exp.value) * 1000 else {
            throw AuthenticationError(.expired, "the token expired; get a new one with `medtunnel token issue`")
        }
        guard Self.seconds(claims.iat.value) <= nowSeconds + settings.clockSkewSeconds else {
            throw AuthenticationError(.notYetValid, "the token is issued in the future; check the clocks")
        }
    }

    private static func seconds(_ date: Date) -> Int64 {
        Int64(date.timeIntervalSince1970.rounded(.down))
    }
}

/// Tokens whose signature and shape this authenticator has verified, with their claims. A token
/// verifies the same way every time (the key is fixed for the authenticator's life), and a
/// client sends the same one with every request of its session, so the ES256 verification and
/// the decoding are done once per token. Only tokens that verified get in (nobody without the
/// key can fill it); the claims are still checked against `now`, and the account read, on every
/// request. Past `capacity` tokens it starts over.
final class VerifiedTokens: Sendable {
    static let capacity = 4096
    private let tokens = Mutex<[Substring: TokenClaims]>([:])

    func claims(of token: Substring) -> TokenClaims? {
        tokens.withLock { $0[token] }
    }

    func insert(_ token: String, _ claims: TokenClaims) {
        tokens.withLock { tokens in
            if tokens.count >= Self.capacity { tokens.removeAll(keepingCapacity: true) }
            tokens[Substring(token)] = claims
        }
    }
}
