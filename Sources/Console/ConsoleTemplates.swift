import Foundation
import Mustache

/// The console's Mustache templates and static files, from the module's own resources: the
/// console needs no file outside the binary's bundle.
struct ConsoleTemplates: Sendable {
    let library: MustacheLibrary
    /// Static files by name (`console.css`, `console.js`, …) and their content type.
    let statics: [String: (body: String, contentType: String)]

    static let pages = [
        "layout", "error", "overview", "pumps", "pump", "changes", "change", "audit", "checkpoints", "alerts",
        "lockouts", "lockout", "phones",
    ]

    init() throws {
        var library = MustacheLibrary()
        for name in Self.pages {
            try library.register(try Self.resource("templates/\(name).mustache"), named: name)
        }
        self.library = library
        var statics: [String: (body: String, contentType: String)] = [:]
        for (name, type) in [("console.css", "text/css"), ("console.js", "text/javascript")] {
            statics[name] = (try Self.resource("static/\(name)"), "\(type); charset=utf-8")
        }
        self.statics = statics
    }

    static func resource(_ path: String) throws -> String {
        guard let url = Bundle.module.url(forResource: "Resources/\(path)", withExtension: nil) else {
            throw ConsoleSetupError(reason: "console resource \(path) is missing from the binary's bundle")
        }
        return try String(contentsOf: url, encoding: .utf8)
    }

    func render(_ name: String, _ object: Any) -> String {
        self.library.render(object, withTemplate: name) ?? ""
    }
}

/// The console could not be set up (a resource missing from the build).
public struct ConsoleSetupError: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { self.reason }
}
