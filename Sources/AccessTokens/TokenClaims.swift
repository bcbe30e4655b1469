import Foundation
import JWTKit

/// The claims of a MedTunnel bearer token:
/// `{"sub": USER, "iat": SECONDS, "exp": SECONDS, "jti": RANDOM, "aud": "medtunnel-api", "iss": ISSUER}`.
/// Only `sub` identifies the user: role and attributes are read from the account store on every
/// request, so a token carries no authority of its own.
struct TokenClaims: JWTPayload {
    var sub: SubjectClaim
    var iat: IssuedAtClaim
    var exp: ExpirationClaim
    var jti: IDClaim
    var aud: AudienceClaim
    var iss: IssuerClaim

    /// The `Authenticator` checks every claim against its own clock, after the signature;
    /// nothing is checked here.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Who issues tokens and for whom; the issuer and the authenticator must agree.
public struct TokenSettings: Sendable, Hashable {
    /// `aud` of every token: the operator API.
    public static let apiAudience = "medtunnel-api"
    public static let defaultIssuer = "medtunnel-gateway"

    public var issuer: String
    public var audience: String
    /// How far in the future `iat` may be before a token counts as not yet valid (clock skew
    /// between the host that issued it and the gateway). `exp` gets no grace.
    public var clockSkewSeconds: Int64

    public init(
        issuer: String = Self.defaultIssuer,
        audience: String = Self.apiAudience,
        clockSkewSeconds: Int64 = 60
    ) {
        self.issuer = issuer
        self.audience = audience
        self.clockSkewSeconds = clockSkewSeconds
    }
}
