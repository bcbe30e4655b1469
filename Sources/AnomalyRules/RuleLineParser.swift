/// Parses one non-empty, comment-free line of a rules file into a ``Rule``:
///
///     NAME kinds=a,b [reasons=x,y] by=phone|pump [distinct=phone|pump]
///          threshold=N window=DURATION action=alert|lockout
struct RuleLineParser {
    let file: String
    let line: Int

    /// The keys of a rule line, in the order ``Rule/text`` writes them.
    static let keys = ["kinds", "reasons", "by", "distinct", "threshold", "window", "action"]
    static let requiredKeys = ["kinds", "by", "threshold", "window", "action"]
    /// What to write for a missing key.
    private static let examples = [
        "kinds": "kinds=tunnel_failed", "by": "by=phone", "threshold": "threshold=3", "window": "window=10m",
        "action": "action=alert",
    ]
    static let maximumNameLength = 64
    static let maximumThreshold = 1_000

    func parse(_ tokens: [Substring]) throws(RuleFileError) -> Rule {
        guard let nameToken = tokens.first else { preconditionFailure("an empty line reached the line parser") }
        let name = try self.name(nameToken)
        var values: [String: Substring] = [:]
        for token in tokens.dropFirst() {
            guard let equals = token.firstIndex(of: "="), equals != token.startIndex else {
                throw self.error(.malformedToken, "'\(token)' is not key=value; write e.g. threshold=3")
            }
            let key = String(token[..<equals])
            let value = token[token.index(after: equals)...]
            guard Self.keys.contains(key) else {
                throw self.error(
                    .unknownKey,
                    "unknown key '\(key)' in '\(token)'; the keys are \(Self.keys.joined(separator: ", "))"
                )
            }
            guard values[key] == nil else {
                throw self.error(.duplicateKey, "\(key) is given twice in rule '\(name)'; give it once")
            }
            values[key] = value
        }
        for key in Self.requiredKeys where values[key] == nil {
            throw self.error(
                .missingKey,
                "rule '\(name)' has no \(key); add e.g. \(Self.examples[key] ?? key + "=...")"
            )
        }
        let subject = try self.subject(values["by"]!, key: "by")
        let distinct = try values["distinct"].map { value throws(RuleFileError) in
            try self.subject(value, key: "distinct")
        }
        if let distinct, distinct == subject {
            throw self.error(
                .invalidValue,
                "distinct '\(distinct.rawValue)' is the rule's own subject (by=\(subject.rawValue)); "
                    + "write distinct=\(subject == .pump ? "phone" : "pump"), or leave distinct out to count events"
            )
        }
        return Rule(
            name: name,
            kinds: try self.list(values["kinds"]!, key: "kinds", example: "kinds=tunnel_failed,handshake_failed"),
            reasons: try values["reasons"].map { value throws(RuleFileError) in
                try self.list(value, key: "reasons", example: "reasons=recordRejected,truncated")
            },
            subject: subject,
            threshold: try self.threshold(values["threshold"]!),
            distinct: distinct,
            windowMilliseconds: try self.window(values["window"]!),
            action: try self.action(values["action"]!)
        )
    }

    private func name(_ token: Substring) throws(RuleFileError) -> String {
        if token.contains("=") {
            throw self.error(
                .invalidName,
                "the line starts with '\(token)' instead of the rule's name; start it with a name, "
                    + "e.g. phone_tampering \(token)"
            )
        }
        let valid =
            token.count <= Self.maximumNameLength
            && token.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-"
            }
        guard valid else {
            throw self.error(
                .invalidName,
                "rule name '\(token)' is not 1 to \(Self.maximumNameLength) of a-z, 0-9, _ and -; "
                    + "write e.g. phone_tampering"
            )
        }
        return String(token)
    }

    private func list(_ value: Substring, key: String, example: String) throws(RuleFileError) -> Set<String> {
        let items = value.split(separator: ",", omittingEmptySubsequences: false)
        let valid = items.allSatisfy { item in
            !item.isEmpty
                && item.unicodeScalars.allSatisfy {
                    ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                        || $0 == "_" || $0 == "-" || $0 == "."
                }
        }
        guard valid else {
            throw self.error(
                .invalidValue,
                "\(key) '\(value)' is not a comma-separated list of names (letters, digits, _ - .); "
                    + "write e.g. \(example)"
            )
        }
        return Set(items.map(String.init))
    }

    private func subject(_ value: Substring, key: String) throws(RuleFileError) -> RuleSubject {
        guard let subject = RuleSubject(rawValue: String(value)) else {
            throw self.error(.invalidValue, "\(key) '\(value)' is not a subject; write \(key)=phone or \(key)=pump")
        }
        return subject
    }

    private func threshold(_ value: Substring) throws(RuleFileError) -> Int {
        guard value.allSatisfy({ $0.isASCII && $0.isNumber }), let threshold = Int(value),
            (1...Self.maximumThreshold).contains(threshold)
        else {
            throw self.error(
                .invalidValue,
                "threshold '\(value)' is not a whole number from 1 to \(Self.maximumThreshold); write e.g. threshold=3"
            )
        }
        return threshold
    }

    private func window(_ value: Substring) throws(RuleFileError) -> Int64 {
        guard let milliseconds = RuleDuration.parse(value) else {
            throw self.error(.invalidValue, "window '\(value)' is not a duration; write e.g. 10m, 1h or 1d")
        }
        guard milliseconds <= RuleDuration.maximumMilliseconds else {
            let maximum = RuleDuration.render(RuleDuration.maximumMilliseconds)
            throw self.error(
                .invalidValue,
                "window '\(value)' is longer than \(maximum); write at most window=\(maximum)"
            )
        }
        return milliseconds
    }

    private func action(_ value: Substring) throws(RuleFileError) -> RuleAction {
        guard let action = RuleAction(rawValue: String(value)) else {
            throw self.error(.invalidValue, "action '\(value)' is not an action; write action=alert or action=lockout")
        }
        return action
    }

    private func error(_ code: RuleFileError.Code, _ reason: String) -> RuleFileError {
        RuleFileError(code, file: self.file, line: self.line, reason)
    }
}
