public import Configuration
import DurationText

/// Everything wrong with a configuration, one line per bad key or variable, each naming where it
/// is (the file and line, or the variable), what was wrong and what was expected.
public struct ConfigProblems: Error, CustomStringConvertible, Sendable {
    public let problems: [String]

    public init(_ problems: [String]) {
        self.problems = problems
    }

    public init(_ problem: String) {
        self.problems = [problem]
    }

    public var description: String { self.problems.joined(separator: "\n") }
}

/// One option's effective value and where it came from.
public struct ConfigSetting: Sendable {
    public enum Value: Sendable, Equatable {
        case text(String)
        case texts([String])
        case flag(Bool)
    }

    public enum Source: Sendable, Equatable {
        case commandLine
        /// The variable's name.
        case environment(String)
        /// `FILE line N`.
        case file(String)
        case defaultValue
        case unset
    }

    public let option: ConfigOption
    /// nil when the command line gave it (the parser reads it) or nothing did.
    public let value: Value?
    public let source: Source
}

/// A command's options resolved from the command line, the environment, a configuration file and
/// the defaults, in that order of precedence.
public struct ConfigResolution: Sendable {
    public let command: ConfigurableCommand
    public let settings: [ConfigSetting]
    /// The command line to parse: the command's words, the arguments given, then one
    /// `--name=value` for each setting the environment or the file gave (never for one the
    /// command line gave, so a flag always wins, and nothing for a default, so every default stays
    /// the command's own).
    public let arguments: [String]
}

/// Reads the file with swift-configuration's `JSONSnapshot` and the environment with its
/// `EnvironmentVariablesProvider`, and merges them *before* ArgumentParser parses: the values
/// become command-line arguments for the options the command line did not give, so every option
/// keeps its own parsing, validation and messages, and `--help` stays the reference.
public enum ConfigLayers {
    /// The command line `main` should parse: unchanged unless it runs `gateway`, `relay` or
    /// `witness [run]` (and asks for no help), otherwise with the file's and environment's
    /// settings appended.
    public static func commandLine(
        _ arguments: [String],
        environment: [String: String]
    ) throws(ConfigProblems)
        -> [String]
    {
        guard let (command, rest) = Self.command(in: arguments) else { return arguments }
        if rest.contains(where: { $0 == "--help" || $0 == "-h" || $0 == "help" || $0 == "--experimental-dump-help" }) {
            return arguments
        }
        return try Self.resolve(command, arguments: rest, environment: environment).arguments
    }

    /// The configurable command `arguments` runs and the arguments after its words.
    static func command(in arguments: [String]) -> (ConfigurableCommand, [String])? {
        switch arguments.first {
        case "gateway": return (.gateway, Array(arguments.dropFirst()))
        case "relay": return (.relay, Array(arguments.dropFirst()))
        case "witness":
            // `run` is the default subcommand: `witness --log …` runs it too.
            if arguments.count > 1, arguments[1] == "run" { return (.witness, Array(arguments.dropFirst(2))) }
            if arguments.count > 1, !arguments[1].hasPrefix("-") { return nil }
            return (.witness, Array(arguments.dropFirst()))
        default: return nil
        }
    }

    /// `--config FILE` or `--config=FILE` in `arguments`, else `MEDTUNNEL_<COMMAND>_CONFIG`.
    static func configPath(
        _ arguments: [String],
        command: ConfigurableCommand,
        environment: [String: String]
    ) -> String? {
        for (index, argument) in arguments.enumerated() {
            if argument == "--" { break }
            if argument == "--config", index + 1 < arguments.count { return arguments[index + 1] }
            if argument.hasPrefix("--config=") { return String(argument.dropFirst("--config=".count)) }
        }
        return environment[command.environmentPrefix + "CONFIG"]
    }

    /// The long options the command line gives (`--name` or `--name=value`).
    static func givenOptions(_ arguments: [String]) -> Set<String> {
        var names: Set<String> = []
        for argument in arguments {
            if argument == "--" { break }
            guard argument.hasPrefix("--") else { continue }
            names.insert(String(argument.dropFirst(2).prefix { $0 != "=" }))
        }
        return names
    }

    /// Resolves `command`'s options. `file` overrides the path the arguments or the environment
    /// give (for `config check FILE`).
    public static func resolve(
        _ command: ConfigurableCommand,
        arguments: [String],
        environment: [String: String],
        file: String? = nil
    ) throws(ConfigProblems) -> ConfigResolution {
        let path = file ?? Self.configPath(arguments, command: command, environment: environment)
        let configFile = try path.map { path throws(ConfigProblems) in try ConfigFile(path: path) }
        var problems: [String] = []
        let known = Set(command.options.map(\.name))
        let configName = command.environmentPrefix + "CONFIG"
        let knownVariables = Set(command.options.map(command.environmentName)).union([configName])

        if let configFile {
            for key in configFile.keys.keys.sorted() where !known.contains(key) {
                problems.append(
                    "\(configFile.place(of: key)): unknown key \"\(key)\" for \(command.name)"
                        + Self.suggestion(key, among: known.sorted(), quoted: true)
                        + "; the keys are the long options of `medtunnel \(command.words.joined(separator: " ")) --help` without --"
                )
            }
        }
        for name in environment.keys.sorted() where name.hasPrefix(command.environmentPrefix) {
            if !knownVariables.contains(name) {
                problems.append(
                    "environment \(name): unknown variable for \(command.name)"
                        + Self.suggestion(name, among: knownVariables.sorted(), quoted: false)
                        + "; unset it, or see docs/configuration.md for the names"
                )
            }
        }

        let secrets = Set(command.options.filter { $0.exposure == .secretValue }.map(command.environmentName))
        let environmentProvider = EnvironmentVariablesProvider(
            environmentVariables: environment,
            secretsSpecifier: .specific(secrets)
        )
        let given = Self.givenOptions(arguments)
        var settings: [ConfigSetting] = []
        var appended: [String] = []
        for option in command.options {
            if given.contains(option.name) {
                settings.append(ConfigSetting(option: option, value: nil, source: .commandLine))
                continue
            }
            var found: (ConfigSetting.Value, ConfigSetting.Source)?
            let variable = command.environmentName(option)
            if environment[variable] != nil {
                let key = AbsoluteConfigKey(["medtunnel", command.name, option.name])
                let result = Self.lookup(option, place: "environment \(variable)", shown: environment[variable] ?? "") {
                    type in try environmentProvider.value(forKey: key, type: type).value?.content
                }
                switch result {
                case .success(let value): found = value.map { ($0, .environment(variable)) }
                case .failure(let problem): problems.append(problem.description)
                }
            }
            if found == nil, let configFile, let type = configFile.keys[option.name] {
                let place = configFile.place(of: option.name)
                if type == "null" || type == "an object" {
                    problems.append("\(place): \(option.name): expected \(option.expected), found \(type)")
                } else {
                    let key = AbsoluteConfigKey([option.name])
                    let result = Self.lookup(option, place: place, shown: type) { type in
                        try configFile.snapshot.value(forKey: key, type: type).value?.content
                    }
                    switch result {
                    case .success(let value): found = value.map { ($0, .file(place)) }
                    case .failure(let problem): problems.append(problem.description)
                    }
                }
            }
            if let (value, source) = found {
                settings.append(ConfigSetting(option: option, value: value, source: source))
                appended += Self.arguments(option, value)
            } else if let defaultValue = option.defaultValue {
                let value: ConfigSetting.Value =
                    if case .flag = option.kind { .flag(defaultValue == "true") } else { .text(defaultValue) }
                settings.append(ConfigSetting(option: option, value: value, source: .defaultValue))
            } else {
                settings.append(ConfigSetting(option: option, value: nil, source: .unset))
            }
        }
        guard problems.isEmpty else { throw ConfigProblems(problems) }
        return ConfigResolution(command: command, settings: settings, arguments: command.words + arguments + appended)
    }

    /// One option's value from one source through `read` (swift-configuration's typed lookup),
    /// checked against the option's kind.
    private static func lookup(
        _ option: ConfigOption,
        place: String,
        shown: String,
        read: (ConfigType) throws -> ConfigContent?
    ) -> Result<ConfigSetting.Value?, ConfigProblems> {
        let refused = ConfigProblems(
            "\(place): \(option.name): expected \(option.expected), found \(option.exposure == .secretValue ? "a value (not shown)" : shown)"
        )
        let types: [ConfigType] =
            switch option.kind {
            case .text, .choice: [.string]
            case .integer: [.int]
            case .duration(let bare, _): bare == .refused ? [.string] : [.string, .int]
            case .flag: [.bool]
            case .texts: [.stringArray, .string]
            }
        // The outer optional: did any type fit; the inner: was the key there at all.
        var found: ConfigContent??
        for type in types {
            do {
                found = .some(try read(type))
                break
            } catch {
                continue  // of another type: try the next, or refuse below
            }
        }
        guard let readContent = found else { return .failure(refused) }
        guard let readValue = readContent else { return .success(nil) }
        switch (option.kind, readValue) {
        case (.text, .string(let text)):
            return text.isEmpty ? .failure(refused) : .success(.text(text))
        case (.choice(let words), .string(let text)):
            return words.contains(text) ? .success(.text(text)) : .failure(refused)
        case (.integer, .int(let number)):
            return .success(.text(String(number)))
        case (.duration(let bare, let allowsZero), .string(let text)):
            return DurationText.milliseconds(text, bare: bare, allowsZero: allowsZero) == nil
                ? .failure(refused) : .success(.text(text))
        case (.duration(let bare, let allowsZero), .int(let number)):
            return DurationText.milliseconds(String(number), bare: bare, allowsZero: allowsZero) == nil
                ? .failure(refused) : .success(.text(String(number)))
        case (.flag, .bool(let flag)):
            return .success(.flag(flag))
        case (.texts, .stringArray(let texts)):
            return texts.contains(where: \.isEmpty) ? .failure(refused) : .success(.texts(texts))
        case (.texts, .string(let text)):
            return text.isEmpty ? .failure(refused) : .success(.texts([text]))
        default:
            return .failure(refused)
        }
    }

    /// The command-line arguments that give `value` to `option`. `--name=value` so that a value
    /// starting with `-` is never taken for an option.
    static func arguments(_ option: ConfigOption, _ value: ConfigSetting.Value) -> [String] {
        switch value {
        case .text(let text): ["\(option.flag)=\(text)"]
        case .texts(let texts): texts.map { "\(option.flag)=\($0)" }
        case .flag(let on): on ? [option.flag] : []
        }
    }

    /// "; did you mean X?" for a near miss (an edit distance of at most 2), else "".
    static func suggestion(_ word: String, among candidates: [String], quoted: Bool) -> String {
        let best = candidates.map { ($0, Self.distance(word, $0)) }.min { $0.1 < $1.1 }
        guard let (candidate, distance) = best, distance <= 2 else { return "" }
        return quoted ? "; did you mean \"\(candidate)\"?" : "; did you mean \(candidate)?"
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.lowercased())
        let b = Array(b.lowercased())
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}
