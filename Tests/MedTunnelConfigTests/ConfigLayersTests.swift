import Foundation
import MedTunnelConfig
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Files in a fresh temporary directory.
struct ConfigFolder {
    let url: URL

    init() throws {
        self.url = FileManager.default.temporaryDirectory.appendingPathComponent("config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.url, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let path = self.url.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

/// The value each layer gives, for one option.
func setting(_ resolution: ConfigResolution, _ name: String) -> ConfigSetting? {
    resolution.settings.first { $0.option.name == name }
}

@Suite("Configuration layers: command line > environment > file > defaults")
struct ConfigLayersTests {
    @Test("gateway: a flag beats the environment, which beats the file, which beats the default")
    func gatewayLayering() throws {
        let folder = try ConfigFolder()
        let file = try folder.write(
            "gateway.json",
            """
            {
              "pki": "/etc/medtunnel/pki/gateway",
              "state-dir": "/var/lib/medtunnel",
              "api-listen": "127.0.0.1:9000",
              "idle-timeout": "90s",
              "relay-listen": "0.0.0.0:7445",
              "witness-key": ["w1+abc+AAAA", "w2+def+BBBB"],
              "console": true
            }
            """
        )
        let environment = [
            "MEDTUNNEL_GATEWAY_API_LISTEN": "127.0.0.1:9100",
            "MEDTUNNEL_GATEWAY_IDLE_TIMEOUT": "3m",
            "MEDTUNNEL_GATEWAY_CONSOLE": "false",
            "PATH": "/usr/bin",
        ]
        let resolution = try ConfigLayers.resolve(
            .gateway,
            arguments: ["--config", file, "--api-listen", "127.0.0.1:9200"],
            environment: environment
        )
        #expect(setting(resolution, "api-listen")?.source == .commandLine)
        #expect(setting(resolution, "idle-timeout")?.value == .text("3m"))
        #expect(setting(resolution, "idle-timeout")?.source == .environment("MEDTUNNEL_GATEWAY_IDLE_TIMEOUT"))
        #expect(setting(resolution, "relay-listen")?.value == .text("0.0.0.0:7445"))
        #expect(setting(resolution, "relay-listen")?.source == .file("\(file) line 6"))
        #expect(setting(resolution, "checkpoint-interval")?.source == .defaultValue)
        #expect(setting(resolution, "console")?.value == .flag(false))
        // The parser sees the flag once (the command line's), the rest appended, the defaults untouched.
        #expect(
            resolution.arguments == [
                "gateway", "--config", file, "--api-listen", "127.0.0.1:9200",
                "--pki=/etc/medtunnel/pki/gateway", "--state-dir=/var/lib/medtunnel", "--relay-listen=0.0.0.0:7445",
                "--idle-timeout=3m", "--witness-key=w1+abc+AAAA", "--witness-key=w2+def+BBBB",
            ]
        )
    }

    @Test("relay: the file gives what neither the flags nor the environment do")
    func relayLayering() throws {
        let folder = try ConfigFolder()
        let file = try folder.write(
            "relay.json",
            #"{"state-dir": "/var/lib/phone", "phone-id": "PHONE-1", "gateway": "gw:7445", "log-level": "debug", "hostile-seed": 7}"#
        )
        let resolution = try ConfigLayers.resolve(
            .relay,
            arguments: ["--config=\(file)", "--phone-id", "PHONE-2"],
            environment: ["MEDTUNNEL_RELAY_LOG_LEVEL": "warning", "MEDTUNNEL_RELAY_LISTEN": "127.0.0.1:0"]
        )
        #expect(setting(resolution, "phone-id")?.source == .commandLine)
        #expect(setting(resolution, "log-level")?.value == .text("warning"))
        #expect(setting(resolution, "listen")?.value == .text("127.0.0.1:0"))
        #expect(setting(resolution, "hostile-seed")?.value == .text("7"))
        #expect(setting(resolution, "server-name")?.source == .unset)
        #expect(resolution.arguments.contains("--gateway=gw:7445"))
        #expect(!resolution.arguments.contains("--phone-id=PHONE-1"))
    }

    @Test("witness: the config file named by MEDTUNNEL_WITNESS_CONFIG, a flag and a secret token")
    func witnessLayering() throws {
        let folder = try ConfigFolder()
        let file = try folder.write(
            "witness.json",
            #"{"log": "http://127.0.0.1:8080", "log-key": "/etc/w/log.vkey", "key": "/etc/w/witness.key", "state": "/var/lib/w/state.json", "interval": "30s", "once": true}"#
        )
        let resolution = try ConfigLayers.resolve(
            .witness,
            arguments: ["--interval", "1m"],
            environment: ["MEDTUNNEL_WITNESS_CONFIG": file, "MEDTUNNEL_WITNESS_TOKEN": "s3cret-token-value"]
        )
        #expect(setting(resolution, "interval")?.source == .commandLine)
        #expect(setting(resolution, "once")?.value == .flag(true))
        #expect(resolution.arguments.prefix(2) == ["witness", "run"])
        #expect(resolution.arguments.contains("--once") && resolution.arguments.contains("--token=s3cret-token-value"))
        let summary = resolution.summary()
        #expect(!summary.contains("s3cret"))
        #expect(summary.contains("(set, not shown)"))
        #expect(summary.contains("/etc/w/witness.key (a secret's file: shown by path only)"))
    }

    @Test("main's command line: untouched for other commands and for help")
    func commandLine() throws {
        let environment = ["MEDTUNNEL_GATEWAY_API_LISTEN": "127.0.0.1:9100"]
        #expect(try ConfigLayers.commandLine(["audit", "show"], environment: environment) == ["audit", "show"])
        #expect(
            try ConfigLayers.commandLine(["gateway", "--help"], environment: environment) == ["gateway", "--help"]
        )
        #expect(
            try ConfigLayers.commandLine(["witness", "keygen", "--key", "k"], environment: environment)
                == ["witness", "keygen", "--key", "k"]
        )
        #expect(
            try ConfigLayers.commandLine(["gateway", "--pki", "p"], environment: environment)
                == ["gateway", "--pki", "p", "--api-listen=127.0.0.1:9100"]
        )
        #expect(
            try ConfigLayers.commandLine(["gateway", "--pki", "p"], environment: [:]) == ["gateway", "--pki", "p"]
        )
    }

    @Test("the environment's names are swift-configuration's encoding of medtunnel.COMMAND.OPTION")
    func environmentNames() {
        #expect(
            ConfigurableCommand.gateway.environmentName(ConfigOption("api-listen", .text))
                == "MEDTUNNEL_GATEWAY_API_LISTEN"
        )
        #expect(
            ConfigurableCommand.witness.environmentName(ConfigOption("log-key", .text)) == "MEDTUNNEL_WITNESS_LOG_KEY"
        )
    }
}

@Suite("contrib/medtunnel-gateway.example.json")
struct ExampleFileTests {
    @Test("the example file holds every gateway key and resolves without a problem")
    func complete() throws {
        let path = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("contrib/medtunnel-gateway.example.json").path
        let resolution = try ConfigLayers.resolve(.gateway, arguments: [], environment: [:], file: path)
        let fromFile = resolution.settings.filter { if case .file = $0.source { true } else { false } }
        // syslog-settle is a hidden option for tests; every other key is in the example.
        #expect(
            Set(fromFile.map(\.option.name))
                == Set(ConfigurableCommand.gateway.options.map(\.name)).subtracting(["syslog-settle"])
        )
    }
}
