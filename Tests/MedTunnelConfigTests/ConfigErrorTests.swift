import Foundation
import MedTunnelConfig
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Configuration errors name the key, its line, the value and what is expected")
struct ConfigErrorTests {
    func problems(
        _ command: ConfigurableCommand = .gateway,
        file text: String? = nil,
        environment: [String: String] = [:]
    ) throws -> [String] {
        let folder = try ConfigFolder()
        let path = try text.map { try folder.write("bad.json", $0) }
        do {
            _ = try ConfigLayers.resolve(command, arguments: [], environment: environment, file: path)
            return []
        } catch {
            return error.problems.map { $0.replacingOccurrences(of: folder.url.path + "/", with: "") }
        }
    }

    @Test("an unknown key is refused with its line and the nearest key")
    func unknownKey() throws {
        let found = try problems(
            file: "{\n  \"state-dir\": \"/var/lib/medtunnel\",\n  \"api-listn\": \"127.0.0.1:1\"\n}\n"
        )
        #expect(found.count == 1)
        #expect(
            found.first?.hasPrefix(
                "bad.json line 3: unknown key \"api-listn\" for gateway; did you mean \"api-listen\"?"
            ) == true
        )
    }

    @Test("every bad key is reported, not only the first")
    func severalProblems() throws {
        let found = try problems(file: #"{"bogus": 1, "idle-timeout": "soon", "console": "yes"}"#)
        #expect(found.count == 3)
        #expect(found.contains { $0.contains("unknown key \"bogus\"") })
        #expect(
            found.contains {
                $0.contains("idle-timeout: expected a duration string") && $0.contains("the string \"soon\"")
            }
        )
        #expect(found.contains { $0.contains("console: expected true or false, found the string \"yes\"") })
    }

    @Test("wrong types: a number for a path, an object, null, a list for a single value")
    func wrongTypes() throws {
        let found = try problems(
            file: """
                {
                  "pki": 12,
                  "state-dir": {"path": "/x"},
                  "rules": null,
                  "api-listen": ["127.0.0.1:1"]
                }
                """
        )
        #expect(found.contains("bad.json line 2: pki: expected a string, found 12"))
        #expect(found.contains("bad.json line 3: state-dir: expected a string, found an object"))
        #expect(found.contains("bad.json line 4: rules: expected a string, found null"))
        #expect(found.contains("bad.json line 5: api-listen: expected a string, found a list"))
    }

    @Test("a bad duration, in the file and in the environment")
    func badDurations() throws {
        let file = try problems(file: #"{"checkpoint-interval": "10"}"#)
        #expect(
            file == [
                "bad.json line 1: checkpoint-interval: expected a duration string: a whole number followed by ms, s, m, h or d (250ms, 10s, 15m, 12h), found the string \"10\""
            ]
        )
        let environment = try problems(environment: ["MEDTUNNEL_GATEWAY_IDLE_TIMEOUT": "2 minutes"])
        #expect(
            environment.first?.hasPrefix(
                "environment MEDTUNNEL_GATEWAY_IDLE_TIMEOUT: idle-timeout: expected a duration"
            ) == true
        )
        #expect(environment.first?.hasSuffix("found 2 minutes") == true)
        // A bare number where the flag keeps one (seconds, as before).
        #expect(try problems(file: #"{"access-log-interval": 5}"#).isEmpty)
    }

    @Test("a bad log level and a bad flag in the environment")
    func badEnvironmentValues() throws {
        let found = try problems(
            .relay,
            environment: ["MEDTUNNEL_RELAY_LOG_LEVEL": "verbose", "MEDTUNNEL_RELAY_HOSTILE_SEED": "seven"]
        )
        #expect(
            found.contains {
                $0.hasPrefix("environment MEDTUNNEL_RELAY_LOG_LEVEL: log-level: expected one of trace, debug")
            }
        )
        #expect(
            found.contains(
                "environment MEDTUNNEL_RELAY_HOSTILE_SEED: hostile-seed: expected a whole number, found seven"
            )
        )
    }

    @Test("an unknown variable with the command's prefix is refused; a secret's value is never echoed")
    func unknownVariable() throws {
        let found = try problems(
            .witness,
            environment: ["MEDTUNNEL_WITNESS_INTERVALL": "10s", "MEDTUNNEL_TOKEN": "x", "MEDTUNNEL_GATEWAY_X": "y"]
        )
        #expect(found.count == 1)
        #expect(
            found.first?.hasPrefix(
                "environment MEDTUNNEL_WITNESS_INTERVALL: unknown variable for witness; did you mean MEDTUNNEL_WITNESS_INTERVAL?"
            ) == true
        )
        let secret = try problems(.witness, file: #"{"token": 1234567890}"#)
        #expect(secret.first?.hasSuffix("found a value (not shown)") == true)
    }

    @Test("a missing file, a directory, an unreadable file, and JSON that does not parse")
    func files() throws {
        let folder = try ConfigFolder()
        func refusal(_ path: String) -> String? {
            do {
                _ = try ConfigLayers.resolve(.gateway, arguments: [], environment: [:], file: path)
                return nil
            } catch {
                return error.description
            }
        }
        let missing = folder.url.appendingPathComponent("nope.json").path
        #expect(refusal(missing) == "--config \(missing): No such file or directory; give the path of a JSON file")
        #expect(refusal(folder.url.path) == "--config \(folder.url.path) is not a file; give the path of a JSON file")
        // Root reads any file whatever its mode; /proc/self/mem opens but fails at the first read.
        let unreadable: String
        if geteuid() == 0 {
            unreadable = "/proc/self/mem"
        } else {
            unreadable = try folder.write("secret.json", "{}")
            chmod(unreadable, 0)
        }
        #expect(refusal(unreadable)?.hasPrefix("--config \(unreadable) cannot be read: ") == true)
        let broken = try folder.write("broken.json", "{\n  \"pki\": \"/p\",\n  \"state-dir\" \"/s\"\n}\n")
        let message = refusal(broken)
        #expect(message?.hasPrefix("\(broken) line 3, column 15: not valid JSON: ") == true, "\(message ?? "")")
        #expect(message?.contains("NSCocoaErrorDomain") == false)
        let list = try folder.write("list.json", "[1, 2]")
        #expect(refusal(list)?.contains("the file must hold one JSON object of settings") == true)
    }
}
