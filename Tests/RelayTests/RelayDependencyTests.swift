import Foundation
import Testing

/// The phone must not be able to decrypt the tunnel, and the dependency graph is the proof:
/// nothing the relay links can speak the pump's inner TLS or read inner messages.
@Suite("Relay: the dependency graph shows the phone cannot decrypt")
struct RelayDependencyTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let relayModules = ["RelayCore", "RelayFraming", "RelayHostility"]
    /// The inner TLS engine (and its C library), the inner message codec, and what holds them.
    static let forbidden: Set<String> = ["PumpTLS", "CMbedTLS", "TunnelProtocol", "PumpRuntime", "Gateway"]

    /// Local target name → the local targets it depends on, read from Package.swift.
    static func localDependencies() throws -> [String: [String]] {
        let manifest = try String(contentsOf: Self.root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let code = manifest.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("//") }
            .joined(separator: "\n")
        let starts = try Regex(#"\.(target|executableTarget|testTarget|systemLibrary)\("#)
        let chunks = code.ranges(of: starts).enumerated().map { index, range in
            let all = code.ranges(of: starts)
            let end = index + 1 < all.count ? all[index + 1].lowerBound : code.endIndex
            return String(code[range.lowerBound..<end])
        }
        let quoted = try Regex(#""([A-Za-z][A-Za-z0-9]*)""#)
        var graph: [String: [String]] = [:]
        for chunk in chunks {
            let withoutProducts = chunk.replacing(try Regex(#"\.product\([^)]*\)"#), with: "")
            let names = withoutProducts.matches(of: quoted).compactMap { $0.output[1].substring.map(String.init) }
            guard let name = names.first else { continue }
            graph[name] = Array(names.dropFirst())
        }
        return graph
    }

    @Test("the hostile relay module depends on no local module at all (only NIOCore and swift-log)")
    func hostilityDependsOnNothingLocal() throws {
        let graph = try Self.localDependencies()
        #expect(graph["RelayHostility"] == [], "\(String(describing: graph["RelayHostility"]))")
        // Control: the medtunnel executable does link it (for `relay --hostile`).
        #expect(graph["medtunnel"]?.contains("RelayHostility") == true)
    }

    @Test(
        "RelayCore, RelayFraming and RelayHostility reach neither the inner TLS engine nor the inner codec, even transitively"
    )
    func relayTargetsCannotDecrypt() throws {
        let graph = try Self.localDependencies()
        #expect(graph["RelayCore"]?.contains("RelayFraming") == true, "Package.swift not read: \(graph)")
        // Control: the parser does see the gateway's dependency on the codec.
        #expect(graph["Gateway"]?.contains("TunnelProtocol") == true, "Package.swift not read: \(graph)")
        for module in Self.relayModules {
            var reached: Set<String> = []
            var queue = graph[module] ?? []
            while let next = queue.popLast() {
                guard reached.insert(next).inserted else { continue }
                queue += graph[next] ?? []
            }
            #expect(
                reached.isDisjoint(with: Self.forbidden),
                "\(module) reaches \(reached.intersection(Self.forbidden))"
            )
        }
    }

    @Test("no relay source file imports the inner TLS engine or the inner codec")
    func relaySourcesImportNothingThatDecrypts() throws {
        for module in Self.relayModules {
            let directory = Self.root.appendingPathComponent("Sources/\(module)")
            let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
                $0.hasSuffix(".swift")
            }
            #expect(!files.isEmpty)
            for file in files {
                let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
                for line in text.split(separator: "\n") where line.contains("import ") {
                    let imported = line.split(separator: " ").last.map(String.init) ?? ""
                    #expect(!Self.forbidden.contains(imported), "\(module)/\(file): \(line)")
                }
            }
        }
    }
}
