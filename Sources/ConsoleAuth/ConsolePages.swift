import Foundation
import Mustache

/// The sign-in pages and passkeys.js, from this module's resources (`Bundle.module`, inside the
/// binary's bundle: nothing is read from outside it). Kept plain: the console restyles them.
struct ConsolePages: Sendable {
    let library: MustacheLibrary
    let script: [UInt8]

    static let templates = ["invite", "signin"]

    static func load() throws -> ConsolePages {
        var library = MustacheLibrary()
        for name in templates {
            try library.register(try resource(name, "mustache"), named: name)
        }
        return ConsolePages(library: library, script: Array(try resource("passkeys", "js").utf8))
    }

    private static func resource(_ name: String, _ ext: String) throws -> String {
        guard let url = Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Resources") else {
            throw ConsoleAuthError(.internalServerError, "internal", "console resource \(name).\(ext) is missing")
        }
        return try String(contentsOf: url, encoding: .utf8)
    }

    func render(_ name: String, _ values: [String: Any]) -> String {
        library.render(values, withTemplate: name) ?? ""
    }

    /// Headers of every page: no caching, no framing, scripts only from the console itself
    /// (no inline script: the pages pass values in data attributes), no Referer (the invite
    /// URL holds its token).
    static let htmlHeaders: [(String, String)] = [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Cache-Control", "no-store"),
        (
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; "
                + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        ),
        ("Referrer-Policy", "no-referrer"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
    ]
}
