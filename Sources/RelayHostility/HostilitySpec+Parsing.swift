extension HostilitySpec {
    /// Parses a spec (see ``HostilitySpec`` for the grammar) or a named spec. Every error
    /// names the token that is wrong and what would be right.
    public init(parsing text: String) throws(HostilitySpecError) {
        let trimmed = text.trimmingSpaces
        if let named = Self.named[trimmed] {
            try self.init(parsing: named)
            return
        }
        guard !trimmed.isEmpty else {
            throw HostilitySpecError(.empty, "the hostile spec is empty; give e.g. 'flip=0.01' or 'chaos'")
        }
        var rules: [HostilityRule] = []
        for group in trimmed.split(separator: ";", omittingEmptySubsequences: false) {
            rules += try Self.parseGroup(String(group))
        }
        self.init(rules: rules)
    }

    private static func parseGroup(_ group: String) throws(HostilitySpecError) -> [HostilityRule] {
        var rules: [HostilityRule] = []
        var target = HostilityTarget()
        let items = group.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingSpaces }
        for item in items {
            guard !item.isEmpty else {
                throw HostilitySpecError(.empty, "an empty item in '\(group)'; separate items with one ','")
            }
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            let key = parts[0]
            let value = parts.count > 1 ? parts[1] : nil
            if let behaviour = HostileBehaviour(rawValue: key) {
                rules.append(try Self.rule(behaviour, value: value, token: item))
            } else {
                try Self.apply(option: key, value: value, token: item, to: &target)
            }
        }
        guard !rules.isEmpty else {
            throw HostilitySpecError(
                .noBehaviour,
                "'\(group)' has options but no behaviour; add one of \(Self.behaviourList)"
            )
        }
        return rules.map { rule in
            var rule = rule
            rule.target = target
            return rule
        }
    }

    private static func rule(
        _ behaviour: HostileBehaviour,
        value: String?,
        token: String
    ) throws(HostilitySpecError) -> HostilityRule {
        var rule = HostilityRule(behaviour)
        switch behaviour {
        case .drop, .duplicate, .reorder, .flip, .truncate, .inject:
            if let value { rule.rate = try Self.rate(value, token: token) }
        case .delay:
            guard let value else {
                throw HostilitySpecError(
                    .missingValue,
                    "'\(token)': delay needs a time, e.g. 'delay=50ms' or 'delay=1s@0.1'"
                )
            }
            let (time, rate) = Self.splitRate(value)
            rule.delay = try Self.duration(time, token: token)
            if let rate { rule.rate = try Self.rate(rate, token: token) }
        case .truncateAt:
            guard let value, let offset = Int(value), offset >= 0 else {
                throw HostilitySpecError(
                    .badValue,
                    "'\(token)': truncate-at needs a byte offset (0 or more), e.g. 'truncate-at=120'"
                )
            }
            rule.offset = offset
        case .splice:
            guard let value else {
                throw HostilitySpecError(.missingValue, "'\(token)': splice needs the partner link, e.g. 'splice=2'")
            }
            let (link, rate) = Self.splitRate(value)
            guard let partner = Int(link), partner >= 1 else {
                throw HostilitySpecError(.badValue, "'\(token)': the splice partner must be a link number (1 or more)")
            }
            rule.partner = partner
            if let rate { rule.rate = try Self.rate(rate, token: token) }
        case .replay:
            guard value == nil else {
                throw HostilitySpecError(.badValue, "'\(token)': replay takes no value; target it with 'link=N'")
            }
        }
        return rule
    }

    private static func apply(
        option: String,
        value: String?,
        token: String,
        to target: inout HostilityTarget
    ) throws(HostilitySpecError) {
        let known = ["link", "records", "min-bytes", "after", "count", "dir"]
        guard known.contains(option) else {
            throw HostilitySpecError(
                .unknownItem,
                "'\(token)': '\(option)' is neither a behaviour (\(Self.behaviourList)) nor an option (\(known.joined(separator: ", ")))"
            )
        }
        guard let value else {
            throw HostilitySpecError(
                .missingValue,
                "'\(token)': the option \(option) needs a value, e.g. '\(option)=1'"
            )
        }
        switch option {
        case "link":
            guard let link = Int(value), link >= 1 else {
                throw HostilitySpecError(.badValue, "'\(token)': link must be a link number (1 or more)")
            }
            target.link = link
        case "records":
            guard let kind = HostileRecordKind(rawValue: value) else {
                throw HostilitySpecError(.badValue, "'\(token)': records must be app, handshake or all")
            }
            target.records = kind
        case "after", "count", "min-bytes":
            guard let number = Int(value), number >= 0 else {
                throw HostilitySpecError(.badValue, "'\(token)': \(option) must be a whole number (0 or more)")
            }
            switch option {
            case "after": target.after = number
            case "count": target.count = number
            default: target.minimumBytes = number
            }
        default:
            switch value {
            case "up": target.directions = [.up]
            case "down": target.directions = [.down]
            case "both": target.directions = [.up, .down]
            default: throw HostilitySpecError(.badValue, "'\(token)': dir must be up, down or both")
            }
        }
    }

    private static var behaviourList: String { HostileBehaviour.allCases.map(\.rawValue).joined(separator: ", ") }

    private static func splitRate(_ value: String) -> (String, String?) {
        let parts = value.split(separator: "@", maxSplits: 1).map(String.init)
        return (parts.first ?? "", parts.count > 1 ? parts[1] : nil)
    }

    private static func rate(_ text: String, token: String) throws(HostilitySpecError) -> Double {
        guard let rate = Double(text), rate >= 0, rate <= 1 else {
            throw HostilitySpecError(.badValue, "'\(token)': the rate '\(text)' must be a number from 0 to 1")
        }
        return rate
    }

    private static func duration(_ text: String, token: String) throws(HostilitySpecError) -> Duration {
        let units: [(String, (Int) -> Duration)] = [
            ("us", { .microseconds($0) }), ("ms", { .milliseconds($0) }), ("s", { .seconds($0) }),
        ]
        for (suffix, make) in units where text.hasSuffix(suffix) {
            if let number = Int(text.dropLast(suffix.count)), number >= 0 { return make(number) }
        }
        throw HostilitySpecError(
            .badValue,
            "'\(token)': the time '\(text)' must be a whole number with us, ms or s, e.g. 50ms"
        )
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(self.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
