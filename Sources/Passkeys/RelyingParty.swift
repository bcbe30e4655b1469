import Crypto

/// The relying party the console is: its id (the origin's host, WebAuthn §5.1.2: a registrable
/// domain, never an IP address), its name shown by authenticators, and the one origin that
/// clientDataJSON and the HTTP `Origin` header must name exactly.
public struct RelyingParty: Sendable, Hashable {
    /// `localhost`, `console.example.org`.
    public let id: String
    public let name: String
    /// Serialized as browsers do (RFC 6454): lower-case scheme and host, no default port, no slash.
    public let origin: String
    /// SHA-256 of `id`: authenticator data's first 32 bytes must be this.
    public let idHash: [UInt8]
    /// https, or http on localhost; decides whether cookies get `Secure`-only expectations.
    public let isSecureScheme: Bool

    /// `origin`: `https://HOST[:PORT]`, or `http://localhost[:PORT]` (browsers treat localhost
    /// as a secure context; any other http origin cannot use WebAuthn).
    public init(origin text: String, name: String = "MedTunnel") throws(PasskeyError) {
        let lower = text.lowercased()
        let scheme: String
        if lower.hasPrefix("https://") {
            scheme = "https"
        } else if lower.hasPrefix("http://") {
            scheme = "http"
        } else {
            throw PasskeyError(.relyingPartyInvalid, "origin '\(text)': must start with https:// (or http://localhost)")
        }
        var rest = Substring(lower.dropFirst(scheme.count + 3))
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.isEmpty, !rest.contains("/"), !rest.contains("@"), !rest.contains("?"), !rest.contains("#") else {
            throw PasskeyError(.relyingPartyInvalid, "origin '\(text)': must be SCHEME://HOST[:PORT] with no path")
        }
        guard !rest.hasPrefix("[") else {
            throw PasskeyError(.relyingPartyInvalid, "origin '\(text)': an IP address cannot be a WebAuthn rpID")
        }
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, let host = parts.first, !host.isEmpty else {
            throw PasskeyError(.relyingPartyInvalid, "origin '\(text)': must be SCHEME://HOST[:PORT]")
        }
        var port: Int?
        if parts.count == 2 {
            guard let value = Int(parts[1]), (1...65535).contains(value), parts[1].allSatisfy(\.isNumber) else {
                throw PasskeyError(.relyingPartyInvalid, "origin '\(text)': the port must be 1 to 65535")
            }
            port = value
        }
        let hostValid = host.utf8.allSatisfy { byte in
            (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2d || byte == 0x2e
        }
        guard hostValid, !host.hasPrefix("."), !host.hasSuffix("."), !host.contains("..") else {
            throw PasskeyError(.relyingPartyInvalid, "origin '\(text)': host '\(host)' is not a DNS name")
        }
        guard !host.split(separator: ".").allSatisfy({ $0.allSatisfy(\.isNumber) }) else {
            throw PasskeyError(
                .relyingPartyInvalid,
                "origin '\(text)': an IP address cannot be a WebAuthn rpID; use a DNS name (http://localhost:PORT locally)"
            )
        }
        guard scheme == "https" || host == "localhost" else {
            throw PasskeyError(
                .relyingPartyInvalid,
                "origin '\(text)': browsers allow WebAuthn over http only on localhost; use https"
            )
        }
        let defaultPort = scheme == "https" ? 443 : 80
        self.id = String(host)
        self.name = name
        self.origin = "\(scheme)://\(host)" + (port.map { $0 == defaultPort ? "" : ":\($0)" } ?? "")
        self.idHash = Array(SHA256.hash(data: Array(host.utf8)))
        self.isSecureScheme = scheme == "https"
    }
}
