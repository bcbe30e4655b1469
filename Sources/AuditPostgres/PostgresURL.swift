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
        // sslmode: only plain TCP in this slice (loopback or a private network); TLS to the
        // database is a later slice, so asking for it is refused rather than silently ignored.
        for item in components.queryItems ?? [] {
            switch (item.name, item.value) {
            case ("sslmode", "disable"?), ("application_name", _):
                continue
            default:
                throw AuditLogError(
                    .invalidArgument,
                    "\(Self.redacting(text)): option \(item.name)=\(item.value ?? "") is not supported (sslmode=disable only)"
                )
            }
        }
        self.host = host
        self.port = components.port ?? 5432
        self.user = components.user.flatMap { $0.isEmpty ? nil : $0 } ?? "postgres"
        self.password = components.password
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        self.database = path.isEmpty ? self.user : path
    }

    /// The URL without the password.
    public var description: String { "postgres://\(self.user)@\(self.host):\(self.port)/\(self.database)" }

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
