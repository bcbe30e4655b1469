import AnomalyRules
import Testing

@Suite("Rules file")
struct RuleFileTests {
    @Test func theBuiltInRulesRoundTripThroughTheirText() throws {
        let defaults = RuleSet.defaults
        #expect(defaults.rules.count == 7)
        #expect(try RuleSet(parsing: defaults.text) == defaults)
        #expect(try RuleSet(parsing: RuleSet.defaultText) == defaults)
    }

    @Test func aRenderedRuleReadsBackTheSame() throws {
        let rules = RuleSet(rules: [
            Rule(
                name: "odd-window_1",
                kinds: ["b_kind", "a_kind"],
                reasons: ["y", "x"],
                subject: .phone,
                threshold: 7,
                distinct: .pump,
                windowMilliseconds: 90_500,
                action: .lockout
            ),
            Rule(
                name: "hours",
                kinds: ["k"],
                subject: .pump,
                threshold: 1,
                windowMilliseconds: 7_200_000,
                action: .alert
            ),
        ])
        #expect(
            rules.text
                == "odd-window_1 kinds=a_kind,b_kind reasons=x,y by=phone distinct=pump threshold=7 window=90500ms"
                + " action=lockout\nhours kinds=k by=pump threshold=1 window=2h action=alert\n"
        )
        #expect(try RuleSet(parsing: rules.text) == rules)
    }

    @Test func commentsBlankLinesAndExtraSpacesAreIgnored() throws {
        let text = """
            # a comment

            \tquiet   kinds=settings_mismatch  by=pump threshold=2 window=90s action=alert   # why
            """
        let rules = try RuleSet(parsing: text)
        #expect(rules.rules.map(\.name) == ["quiet"])
        #expect(rules.rules.first?.windowMilliseconds == 90_000)
        #expect(try RuleSet(parsing: "").rules.isEmpty)
        #expect(try RuleSet(parsing: "# only a comment\n\n").rules.isEmpty)
    }

    /// A file whose fourth line is `line`.
    private static func file(withFourthLine line: String) -> String {
        """
        # rules for the test
        ok kinds=tunnel_failed by=phone threshold=3 window=10m action=lockout

        \(line)
        """
    }

    struct Malformed: Sendable, CustomTestStringConvertible {
        var line: String
        var code: RuleFileError.Code
        /// What the reason must name.
        var names: String
        var testDescription: String { self.line }
    }

    static let malformed: [Malformed] = [
        Malformed(
            line: "a kinds=k by=phone threshold=3 window=10m action=alert color=red",
            code: .unknownKey,
            names: "'color'"
        ),
        Malformed(line: "a kinds=k by=phone window=10m action=alert", code: .missingKey, names: "threshold=3"),
        Malformed(
            line: "a kinds=k by=phone threshold=0 window=10m action=alert",
            code: .invalidValue,
            names: "threshold '0'"
        ),
        Malformed(line: "a kinds=k by=phone threshold=-2 window=10m action=alert", code: .invalidValue, names: "'-2'"),
        Malformed(
            line: "a kinds=k by=phone threshold=3 window=ten action=alert",
            code: .invalidValue,
            names: "window 'ten'"
        ),
        Malformed(
            line: "a kinds=k by=phone threshold=3 window=0s action=alert",
            code: .invalidValue,
            names: "window '0s'"
        ),
        Malformed(line: "a kinds=k by=phone threshold=3 window=400d action=alert", code: .invalidValue, names: "366d"),
        Malformed(
            line: "a kinds=k by=phone threshold=3 window=10m action=ban",
            code: .invalidValue,
            names: "action 'ban'"
        ),
        Malformed(
            line: "ok kinds=k by=phone threshold=3 window=10m action=alert",
            code: .duplicateRule,
            names: "line 2"
        ),
        Malformed(
            line: "Phone! kinds=k by=phone threshold=3 window=10m action=alert",
            code: .invalidName,
            names: "'Phone!'"
        ),
        Malformed(line: "kinds=k by=phone threshold=3 window=10m action=alert", code: .invalidName, names: "'kinds=k'"),
        Malformed(
            line: String(repeating: "a", count: 65) + " kinds=k by=phone threshold=3 window=10m action=alert",
            code: .invalidName,
            names: "64"
        ),
        Malformed(line: "a kinds=k by=foo threshold=3 window=10m action=alert", code: .invalidValue, names: "by 'foo'"),
        Malformed(
            line: "a kinds=k by=phone distinct=phone threshold=4 window=1d action=alert",
            code: .invalidValue,
            names: "distinct=pump"
        ),
        Malformed(
            line: "a kinds=k by=pump distinct=tablet threshold=4 window=1d action=alert",
            code: .invalidValue,
            names: "distinct 'tablet'"
        ),
        Malformed(
            line: "a kinds=k,,j by=pump threshold=4 window=1d action=alert",
            code: .invalidValue,
            names: "kinds 'k,,j'"
        ),
        Malformed(
            line: "a kinds=k by=pump threshold=4 threshold=5 window=1d action=alert",
            code: .duplicateKey,
            names: "threshold"
        ),
        Malformed(
            line: "a kinds=k by=pump threshold 4 window=1d action=alert",
            code: .malformedToken,
            names: "'threshold'"
        ),
    ]

    @Test("each malformed line gives its error", arguments: Self.malformed)
    func malformedLine(_ malformed: Malformed) {
        let error = #expect(throws: RuleFileError.self) {
            try RuleSet(parsing: Self.file(withFourthLine: malformed.line), file: "rules.conf")
        }
        #expect(error?.code == malformed.code)
        #expect(error?.line == 4)
        #expect(error?.file == "rules.conf")
        #expect(error?.reason.contains(malformed.names) == true, "\(error?.reason ?? "no error")")
        #expect(error?.description.hasPrefix("rules.conf:4: ") == true)
    }

    @Test func aBadWindowSaysWhatToWrite() {
        let error = #expect(throws: RuleFileError.self) {
            try RuleSet(
                parsing: Self.file(withFourthLine: "a kinds=k by=phone threshold=3 window=ten action=alert"),
                file: "rules.conf"
            )
        }
        #expect(error?.description == "rules.conf:4: window 'ten' is not a duration; write e.g. 10m, 1h or 1d")
    }
}
