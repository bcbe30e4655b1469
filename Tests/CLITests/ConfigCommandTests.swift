import Foundation
import MedTunnelConfig
import MedTunnelTestSupport
import Testing

/// `--config`, MEDTUNNEL_<COMMAND>_<OPTION> and `medtunnel config check`, run as an operator would.
@Suite("medtunnel config check and configuration files", .offThePool)
struct ConfigCommandTests {
    func write(_ tmp: TemporaryDirectory, _ name: String, _ text: String) throws -> String {
        let path = tmp.sub(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("config check: exit 0 with the effective settings and their sources; secrets by path only")
    func checkValid() throws {
        let tmp = try TemporaryDirectory()
        let file = try write(
            tmp,
            "gateway.json",
            """
            {
              "pki": "/etc/medtunnel/pki/gateway",
              "state-dir": "/var/lib/medtunnel",
              "api-listen": "127.0.0.1:8443",
              "metrics-token-file": "/etc/medtunnel/metrics.token",
              "idle-timeout": "90s"
            }
            """
        )
        let result = try ProcessHarness.medtunnel(
            ["config", "check", file],
            environment: ["MEDTUNNEL_GATEWAY_IDLE_TIMEOUT": "3m"]
        )
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.contains("api-listen") && $0.contains("127.0.0.1:8443") && $0.hasSuffix("line 4") })
        #expect(
            lines.contains {
                $0.contains("idle-timeout") && $0.contains("3m") && $0.hasSuffix("MEDTUNNEL_GATEWAY_IDLE_TIMEOUT")
            }
        )
        #expect(lines.contains { $0.contains("checkpoint-interval") && $0.contains("10s") && $0.hasSuffix("default") })
        #expect(lines.contains { $0.contains("/etc/medtunnel/metrics.token (a secret's file: shown by path only)") })
        #expect(result.stdout.contains("is valid for `medtunnel gateway`"))
    }

    @Test("config check: exit 2 naming each bad key and its line")
    func checkInvalid() throws {
        let tmp = try TemporaryDirectory()
        let file = try write(
            tmp,
            "gateway.json",
            "{\n  \"pki\": \"/p\",\n  \"state-dir\": \"/s\",\n  \"idle-timeout\": \"120\",\n  \"log-levl\": \"info\"\n}\n"
        )
        let result = try ProcessHarness.medtunnel(["config", "check", file])
        #expect(result.status == 2)
        #expect(result.stderr.contains("\(file) line 4: idle-timeout: expected a duration string"))
        #expect(
            result.stderr.contains("\(file) line 5: unknown key \"log-levl\" for gateway; did you mean \"log-level\"?")
        )
        #expect(result.stdout.isEmpty)
        #expect(!result.stderr.contains(".swift"))
    }

    @Test("config check: the command's own checks (a missing option, a remote API without TLS), exit 2")
    func checkCommandRefusals() throws {
        let tmp = try TemporaryDirectory()
        let noPKI = try write(tmp, "a.json", #"{"state-dir": "/s"}"#)
        let missing = try ProcessHarness.medtunnel(["config", "check", noPKI])
        #expect(missing.status == 2 && missing.stderr.contains("--pki"), "\(missing.stderr)")
        let remote = try write(tmp, "b.json", #"{"pki": "/p", "state-dir": "/s", "api-listen": "0.0.0.0:8443"}"#)
        let refused = try ProcessHarness.medtunnel(["config", "check", remote])
        #expect(refused.status == 2 && refused.stderr.contains("--api-tls-cert"), "\(refused.stderr)")
        let gone = try ProcessHarness.medtunnel(["config", "check", tmp.sub("none.json")])
        #expect(gone.status == 2 && gone.stderr.contains("No such file or directory"))
    }

    @Test("config check --command relay and witness")
    func checkOtherCommands() throws {
        let tmp = try TemporaryDirectory()
        let relay = try write(tmp, "relay.json", #"{"state-dir": "/s", "phone-id": "PHONE-1", "gateway": "gw:7445"}"#)
        let relayResult = try ProcessHarness.medtunnel(["config", "check", relay, "--command", "relay"])
        #expect(relayResult.status == 0, "\(relayResult.stderr)")
        #expect(relayResult.stdout.contains("relay: effective settings"))
        let witness = try write(
            tmp,
            "witness.json",
            #"{"log": "http://127.0.0.1:8080", "log-key": "/k", "key": "/w.key", "state": "/st.json", "interval": "10"}"#
        )
        let witnessResult = try ProcessHarness.medtunnel(
            ["config", "check", witness, "--command", "witness"],
            environment: ["MEDTUNNEL_WITNESS_TOKEN": "never-printed-token"]
        )
        #expect(witnessResult.status == 2)
        #expect(witnessResult.stderr.contains("line 1: interval: expected a duration string"))
        let bad = try ProcessHarness.medtunnel(["config", "check", witness, "--command", "pump-sim"])
        #expect(bad.status == 64 && bad.stderr.contains("expected gateway, relay or witness"))
    }

    @Test("gateway --config: a bad file stops the start, exit 2, naming the key and line")
    func gatewayRefusesBadFile() throws {
        let tmp = try TemporaryDirectory()
        let file = try write(tmp, "gateway.json", "{\n  \"state-dir\": \"\(tmp.sub("state"))\",\n  \"bogus\": true\n}")
        let result = try ProcessHarness.medtunnel(["gateway", "--pki", tmp.sub("pki"), "--config", file])
        #expect(result.status == 2)
        #expect(result.stderr.contains("Error: \(file) line 3: unknown key \"bogus\" for gateway"))
        // Nothing was started: the state directory was never created.
        #expect(!FileManager.default.fileExists(atPath: tmp.sub("state")))
    }

    @Test("every option of gateway, relay and witness run is a configuration key, with the same default")
    func everyOptionIsAKey() throws {
        for command in ConfigurableCommand.all {
            let help = try ProcessHarness.medtunnel(command.words + ["--experimental-dump-help"])
            #expect(help.status == 0)
            let json = try JSONSerialization.jsonObject(with: Data(help.stdout.utf8)) as? [String: Any]
            let info = json?["command"] as? [String: Any]
            let arguments = info?["arguments"] as? [[String: Any]] ?? []
            var declared: [String: String?] = [:]
            for argument in arguments {
                let names = argument["names"] as? [[String: Any]] ?? []
                guard let long = names.first(where: { $0["kind"] as? String == "long" })?["name"] as? String else {
                    continue
                }
                if ["help", "version", "config"].contains(long) { continue }
                declared[long] = argument["defaultValue"] as? String
            }
            // Removed options kept hidden to explain what replaced them are not keys.
            declared["api-allow-remote"] = nil
            declared["pki"] = command.name == "relay" ? nil : declared["pki"]
            // A flag has no default in the dump; its key's default is false.
            let keys = Dictionary(
                uniqueKeysWithValues: command.options.map { option in
                    if case .flag = option.kind {
                        (option.name, String?.none)
                    } else {
                        (option.name, option.defaultValue)
                    }
                }
            )
            #expect(Set(declared.keys) == Set(keys.keys), "\(command.name): options and keys differ")
            for (name, defaultValue) in declared where keys[name] != nil {
                #expect(
                    keys[name]! == defaultValue,
                    "\(command.name) --\(name): default \(String(describing: defaultValue))"
                )
            }
        }
    }

    @Test(
        "each duration flag refuses what is not a duration, naming the flag and the accepted forms",
        arguments: [
            (
                ["gateway", "--pki", "/p", "--state-dir", "/s", "--access-log-interval", "5x"],
                "--access-log-interval '5x'"
            ),
            (
                ["gateway", "--pki", "/p", "--state-dir", "/s", "--access-log-interval", "0"],
                "--access-log-interval '0'"
            ),
            (
                ["gateway", "--pki", "/p", "--state-dir", "/s", "--checkpoint-interval", "10"],
                "--checkpoint-interval '10'"
            ),
            (["gateway", "--pki", "/p", "--state-dir", "/s", "--idle-timeout", "120"], "--idle-timeout '120'"),
            (
                ["gateway", "--pki", "/p", "--state-dir", "/s", "--uplink-idle-timeout", "never"],
                "--uplink-idle-timeout 'never'"
            ),
            (
                ["gateway", "--pki", "/p", "--state-dir", "/s", "--console-step-up-window", "2h"],
                "--console-step-up-window '2h'"
            ),
            (
                ["witness", "--log", "/l", "--log-key", "k", "--key", "k", "--state", "s", "--interval", "1"],
                "--interval '1'"
            ),
            (
                ["pump-sim", "--state-dir", "/s", "--serial", "P", "--connect", "127.0.0.1:1", "--interval", "1.5s"],
                "--interval '1.5s'"
            ),
            (
                [
                    "pump-sim", "--state-dir", "/s", "--serial", "P", "--connect", "127.0.0.1:1", "--response-timeout",
                    "soon",
                ], "--response-timeout 'soon'"
            ),
            (
                ["pump-sim", "--state-dir", "/s", "--serial", "P", "--connect", "127.0.0.1:1", "--progress", "0.25"],
                "--progress '0.25'"
            ),
            (["token", "issue", "--state-dir", "/s", "--user", "u", "--ttl", "1500ms"], "ttl '1500ms'"),
        ]
    )
    func durationRefused(arguments: [String], message: String) throws {
        let result = try ProcessHarness.medtunnel(arguments)
        #expect(result.status != 0)
        #expect(result.stderr.contains(message), "\(result.stderr)")
        if !arguments.contains("--ttl") {
            #expect(result.stderr.contains("250ms, 10s, 15m, 12h") || result.stderr.contains("from 1s to 1h"))
        }
    }

    @Test(
        "each duration flag accepts units, and a bare number only where it had one",
        arguments: [
            ["gateway", "--access-log-interval", "5"], ["gateway", "--access-log-interval", "1m"],
            ["gateway", "--checkpoint-interval", "250ms"], ["gateway", "--idle-timeout", "90s"],
            ["gateway", "--uplink-idle-timeout", "0"], ["gateway", "--uplink-idle-timeout", "12h"],
            ["gateway", "--console-step-up-window", "30s"],
            ["witness", "--interval", "500ms"],
            ["pump-sim", "--interval", "50"], ["pump-sim", "--interval", "1s"],
            ["pump-sim", "--response-timeout", "5000"], ["pump-sim", "--response-timeout", "2s"],
            ["pump-sim", "--progress", "0"], ["pump-sim", "--progress", "250ms"],
        ]
    )
    func durationAccepted(arguments: [String]) throws {
        let tmp = try TemporaryDirectory()
        // Each run stops after the options are accepted: the PKI, the log key or the pump's
        // identity does not exist.
        let rest: [String] =
            switch arguments[0] {
            case "gateway": ["--pki", tmp.sub("pki"), "--state-dir", tmp.sub("s")]
            case "witness":
                ["--log", tmp.sub("l"), "--log-key", tmp.sub("k"), "--key", tmp.sub("k"), "--state", tmp.sub("st")]
            default: ["--state-dir", tmp.sub("s"), "--serial", "P", "--connect", "127.0.0.1:1"]
            }
        let result = try ProcessHarness.medtunnel(arguments + rest, timeout: 20)
        #expect(result.status != 64, "\(result.stderr)")
        #expect(!result.stderr.contains("is not a duration"), "\(result.stderr)")
    }
}
