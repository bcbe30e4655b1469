public import DurationText

/// One option of a long-running command as a configuration key: the long flag without `--`
/// (`api-listen` for `--api-listen`), so an operator reads the same name in `--help`, the file
/// and the environment (`MEDTUNNEL_GATEWAY_API_LISTEN`).
public struct ConfigOption: Sendable {
    /// What the option's value is, checked before the command line is parsed so that a bad value
    /// names its key and where it came from.
    public enum Kind: Sendable {
        /// Any text (a path, HOST:PORT, a URL).
        case text
        /// A whole number.
        case integer
        /// A duration through DurationText.
        case duration(bare: DurationText.BareNumber, allowsZero: Bool)
        /// A flag without a value: true gives it, false leaves it out.
        case flag
        /// A repeatable option: a list of texts (comma-separated in the environment).
        case texts
        /// One of a fixed set of words.
        case choice([String])
    }

    /// How `config check` shows the value: secrets by their presence only.
    public enum Exposure: Sendable {
        case shown
        /// A file holding a secret: its path is shown, never its content (which is not read here).
        case secretPath
        /// A secret given in place: never printed.
        case secretValue
    }

    public let name: String
    public let kind: Kind
    /// The default as `--help` shows it, nil for none.
    public let defaultValue: String?
    public let exposure: Exposure

    public init(_ name: String, _ kind: Kind, default defaultValue: String? = nil, exposure: Exposure = .shown) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.exposure = exposure
    }

    public var flag: String { "--" + self.name }

    /// What a value must be, for error messages.
    public var expected: String {
        switch self.kind {
        case .text: "a string"
        case .integer: "a whole number"
        case .duration(let bare, let allowsZero):
            "a duration string: " + DurationText.accepted(bare: bare, allowsZero: allowsZero)
        case .flag: "true or false"
        case .texts: "a list of strings (in the environment: comma-separated)"
        case .choice(let words): "one of " + words.joined(separator: ", ")
        }
    }
}

/// A command whose options a configuration file and the environment can give.
public struct ConfigurableCommand: Sendable {
    /// `gateway`, `relay` or `witness`: the file's command and the environment's middle word.
    public let name: String
    /// The words that run it (`witness run`), before its options.
    public let words: [String]
    public let options: [ConfigOption]

    public init(name: String, words: [String], options: [ConfigOption]) {
        self.name = name
        self.words = words
        self.options = options
    }

    /// `MEDTUNNEL_GATEWAY_`: every variable of this command starts so.
    public var environmentPrefix: String { "MEDTUNNEL_\(self.name.uppercased())_" }

    /// `MEDTUNNEL_GATEWAY_API_LISTEN` for gateway's `api-listen`: the prefix, then the option's
    /// name upper-cased with `-` as `_` (swift-configuration's encoding of the key
    /// `medtunnel.gateway.api-listen`).
    public func environmentName(_ option: ConfigOption) -> String {
        self.environmentPrefix + option.name.uppercased().map { $0 == "-" ? "_" : String($0) }.joined()
    }

    public func option(named name: String) -> ConfigOption? {
        self.options.first { $0.name == name }
    }

    public static let all: [ConfigurableCommand] = [.gateway, .relay, .witness]

    public static func named(_ name: String) -> ConfigurableCommand? {
        Self.all.first { $0.name == name }
    }
}

extension ConfigurableCommand {
    static let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// `medtunnel gateway`. A test checks this list against the command's own `--help` (names,
    /// kinds and defaults), so an option added to the command and not here fails it.
    public static let gateway = ConfigurableCommand(
        name: "gateway",
        words: ["gateway"],
        options: [
            ConfigOption("pki", .text),
            ConfigOption("state-dir", .text),
            ConfigOption("pump-listen", .text),
            ConfigOption("relay-listen", .text),
            ConfigOption("api-listen", .text, default: "127.0.0.1:0"),
            ConfigOption("api-tls-cert", .text),
            ConfigOption("api-tls-key", .text, exposure: .secretPath),
            ConfigOption("metrics-listen", .text),
            ConfigOption("metrics-token-file", .text, exposure: .secretPath),
            ConfigOption("access-log-interval", .duration(bare: .seconds, allowsZero: false), default: "5s"),
            ConfigOption("checkpoint-interval", .duration(bare: .refused, allowsZero: false), default: "10s"),
            ConfigOption("idle-timeout", .duration(bare: .refused, allowsZero: false), default: "2m"),
            ConfigOption("uplink-idle-timeout", .duration(bare: .refused, allowsZero: true), default: "5m"),
            ConfigOption("log-level", .choice(Self.levels), default: "info"),
            ConfigOption("log-format", .choice(["text", "json"]), default: "text"),
            ConfigOption("rules", .text),
            ConfigOption("alert-webhook", .text),
            ConfigOption("witness-key", .texts),
            ConfigOption("console", .flag, default: "false"),
            ConfigOption("console-origin", .text),
            ConfigOption("console-step-up-window", .duration(bare: .refused, allowsZero: false), default: "5m"),
            ConfigOption("syslog", .text),
            ConfigOption("syslog-ca", .text),
            ConfigOption("syslog-settle", .duration(bare: .refused, allowsZero: false), default: "2s"),
            ConfigOption("node-id", .text),
            ConfigOption("node-lease", .duration(bare: .refused, allowsZero: false), default: "10s"),
        ]
    )

    /// `medtunnel relay` (the hidden, removed `--pki` is not a key: the command refuses it).
    public static let relay = ConfigurableCommand(
        name: "relay",
        words: ["relay"],
        options: [
            ConfigOption("state-dir", .text),
            ConfigOption("phone-id", .text),
            ConfigOption("gateway", .text),
            ConfigOption("csr", .text),
            ConfigOption("install", .text),
            ConfigOption("trust", .text),
            ConfigOption("enroll-with", .text),
            ConfigOption("listen", .text, default: "127.0.0.1:7444"),
            ConfigOption("server-name", .text),
            ConfigOption("log-level", .choice(Self.levels), default: "info"),
            ConfigOption("log-format", .choice(["text", "json"]), default: "text"),
            ConfigOption("hostile", .text),
            ConfigOption("hostile-seed", .integer, default: "1"),
        ]
    )

    /// `medtunnel witness run` (`witness keygen` is a one-off and takes no configuration).
    public static let witness = ConfigurableCommand(
        name: "witness",
        words: ["witness", "run"],
        options: [
            ConfigOption("log", .text),
            ConfigOption("log-key", .text),
            ConfigOption("key", .text, exposure: .secretPath),
            ConfigOption("state", .text),
            ConfigOption("interval", .duration(bare: .refused, allowsZero: false), default: "10s"),
            ConfigOption("origin", .text),
            ConfigOption("token", .text, exposure: .secretValue),
            ConfigOption("once", .flag, default: "false"),
            ConfigOption("log-format", .choice(["text", "json"]), default: "text"),
        ]
    )
}
