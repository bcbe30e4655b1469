import Foundation
import SafetyPolicy
import TherapyJSON
import TherapyModel

/// A bad command-line input: `option` (e.g. `--change`) and what was wrong with it.
struct PolicyInputError: Error, CustomStringConvertible {
    let option: String
    let problem: String

    var description: String { "\(option): \(problem)" }
}

/// The decoded inputs of `medtunnel policy evaluate`.
struct PolicyInput {
    let change: SettingChange
    let actor: PolicyActor
    let context: PolicyContext

    static func load(from command: PolicyEvaluateCommand) throws(PolicyInputError) -> PolicyInput {
        let model = try decode("--model", file: command.model, with: TherapyJSON.pumpModel(from:))
        let prescription = try decode(
            "--prescription",
            file: command.prescription,
            with: TherapyJSON.prescription(from:)
        )
        let settings = try decode("--settings", file: command.settings, with: TherapyJSON.settings(from:))
        let history = try decode("--history", file: command.history, with: TherapyJSON.history(from:))
        let actor = try decode("--actor", inline: command.actor, with: TherapyJSON.actor(from:))
        let change = try decode("--change", inline: command.change, with: TherapyJSON.change(from:))
        let now: Timestamp
        if let text = command.now {
            guard let parsed = ISO8601Time.parse(text) else {
                throw PolicyInputError(
                    option: "--now",
                    problem: "'\(text)' is not an ISO 8601 time such as 2026-11-21T08:00:00Z"
                )
            }
            now = parsed
        } else {
            now = Timestamp(millisecondsSinceEpoch: Int64((Date().timeIntervalSince1970 * 1000).rounded()))
        }
        let lockout = command.lockout.map { LockoutState.lockedOut(reason: $0) } ?? LockoutState.unlocked
        let context = PolicyContext(
            settings: settings,
            model: model,
            prescription: prescription,
            history: history,
            lockout: lockout,
            now: now,
            pump: try command.pumpState.map { path throws(PolicyInputError) in
                try decode("--pump-state", file: path, with: TherapyJSON.pumpState(from:))
            }
        )
        return PolicyInput(change: change, actor: actor, context: context)
    }

    private static func decode<T>(
        _ option: String,
        file path: String?,
        with decoder: (Data) throws(TherapyJSONError) -> T
    ) throws(PolicyInputError) -> T {
        guard let path else {
            throw PolicyInputError(option: option, problem: "is required; give a JSON file")
        }
        return try decode(option, data: try read(option, path: path), with: decoder)
    }

    /// Inline JSON, or `@FILE` for JSON read from a file.
    private static func decode<T>(
        _ option: String,
        inline text: String?,
        with decoder: (Data) throws(TherapyJSONError) -> T
    ) throws(PolicyInputError) -> T {
        guard let text else {
            throw PolicyInputError(option: option, problem: "is required; give inline JSON or @FILE")
        }
        let data = text.hasPrefix("@") ? try read(option, path: String(text.dropFirst())) : Data(text.utf8)
        return try decode(option, data: data, with: decoder)
    }

    private static func decode<T>(
        _ option: String,
        data: Data,
        with decoder: (Data) throws(TherapyJSONError) -> T
    ) throws(PolicyInputError) -> T {
        do {
            return try decoder(data)
        } catch {
            throw PolicyInputError(option: option, problem: "\(error)")
        }
    }

    private static func read(_ option: String, path: String) throws(PolicyInputError) -> Data {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PolicyInputError(option: option, problem: "cannot read file '\(path)'; check the path")
        }
        return data
    }
}
