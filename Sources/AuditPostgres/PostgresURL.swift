public import AuditLog
import Foundation

/// A `postgres://USER[:PASSWORD]@HOST[:PORT][/DATABASE]` URL, parsed once at the boundary.
///
/// `description` is the URL without its password: it is what every message, log line and error
/// names, so that a password given on a command line never reaches a terminal, a log collector or
/// a bug report. The password itself is only handed to the connection.
public struct PostgresURL: Sendable, Hashable, CustomStringConvertible {
    public let host: String
    public let port: Int
    public let user: String
    public let database: String
    let password: String?
    /// How the connection is protected.
    public let security: Security

    public enum Security: Sendable, Hashable {
        /// Plain TCP: loopback or a private network only.
        case none
        /// TLS 1.2 or 1.3, the server's certificate verified against the CAs in this PEM file and
        /// its name against the URL's host.
        case verifyFull(rootCertificates: String)
    }

    /// Parses `text`; throws `.invalidArgument` naming what is wrong (never echoing a password).
    public init(_ text: String) throws {
        guard let components = URLComponents(string: text),
            let scheme = components.scheme, scheme == "postgres" || scheme == "postgresql"
        else {
            throw AuditLogError(
                .invalidArgument,
                "\(Self.redacting(text)): not a PostgreSQL URL; give postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
            )
        }
        guard let host = components.host, !host.isEmpty else {
            throw AuditLogError(
                .invalidArgument,
                "\(Self.redacting(text)): no host; give postgres://USER@HOST[:PORT]/DATABASE (sockets are not supported)"
            )
        }
        // TLS: verify-full (the chain to sslrootcert and the host name) or nothing. libpq's
        // require, verify-ca and prefer encrypt without knowing who answers (or may fall back to
        // plain TCP): refused, not quietly weakened or strengthened.
        var mode: String?
        var rootCertificates: String?
        for item in components.queryItems ?? [] {
            switch (item.name, item.value) {
            case ("sslmode", let value?) where value == "disable" || value == "verify-full":
                mode = value
            case ("sslmode", let value):
                throw AuditLogError(
                    .invalidArgument,
                    "\(Self.redacting(text)): sslmode=\(value ?? "") is not supported: give sslmode=verify-full with "
                        + "sslrootcert=FILE (the CA that signed the server's certificate; its host name is checked "
                        + "too), or sslmode=disable on loopback or a private network"
                )
            case ("sslrootcert", let value?) where value.hasPrefix("/"):
                rootCertificates = value
            case ("sslrootcert", let value):
                throw AuditLogError(
                    .invalidArgument,
                    "\(Self.redacting(text)): sslrootcert=\(value ?? "") must be an absolute path to a PEM file"
                )
            case ("application_name", _):
                continue
            default:
                throw AuditLogError(
                    .invalidArgument,
                    "\(Self.redacting(text)): option \(item.name) is not supported (sslmode, sslrootcert and "
                        + "application_name are)"
                )
            }
        }
        switch (mode, rootCertificates) {
        case ("verify-full"?, let file?):
            self.security = .verifyFull(rootCertificates: file)
        case ("verify-full"?, nil):
            throw AuditLogError(
                .invalidArgument,
                "\(Self.redacting(text)): sslmode=verify-full needs sslrootcert=FILE, the CA that signed the server's certificate"
            )
        case (_, .some):
            throw AuditLogError(
                .invalidArgument,
                "\(Self.redacting(text)): sslrootcert is given without sslmode=verify-full"
            )
        default:
            self.security = .none
        }
        self.host = host
        self.port = components.port ?? 5432
        self.user = components.user.flatMap { $0.isEmpty ? nil : $0 } ?? "postgres"
        self.password = components.password
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        self.database = path.isEmpty ? self.user : path
    }

    /// The URL without the password.
    public var description: String {
        let base = "postgres://\(self.user)@\(self.host):\(self.port)/\(self.database)"
        guard case .verifyFull = self.security else { return base }
        return base + "?sslmode=verify-full"
    }

    /// `host:port`, as an unreachable-server message names it.
    public var endpoint: String { "\(self.host):\(self.port)" }

    /// `text` with anything between `://USER:` and `@` replaced, for a URL that did not parse.
    static func redacting(_ text: String) -> String {
        guard let schemeEnd = text.range(of: "://"), let at = text.range(of: "@", options: .backwards) else {
            return text
        }
        let authority = text[schemeEnd.upperBound..<at.lowerBound]
        guard let colon = authority.firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":***" + String(text[at.lowerBound...])
    }
}
