import Foundation

/// The shipped examples under `Examples/policy/`, found from this source file's path.
enum ExampleFiles {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // SafetyPolicyTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // package root
        .appendingPathComponent("Examples/policy")

    static func path(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }

    static func data(_ name: String) throws -> Data {
        try Data(contentsOf: directory.appendingPathComponent(name))
    }
}
