/// The anomaly rules the gateway applies, and their file format.
///
/// One rule per line; `#` starts a comment; blank lines are ignored; tokens are separated by
/// spaces:
///
///     NAME kinds=a,b [reasons=x,y] by=phone|pump [distinct=phone|pump]
///          threshold=N window=DURATION action=alert|lockout
///
/// NAME is `[a-z0-9_-]{1,64}` and unique; DURATION is `Ns`, `Nm`, `Nh` or `Nd`. See
/// ``defaultText`` for the built-in rules (`medtunnel rules show` prints it).
public struct RuleSet: Sendable, Equatable {
    public var rules: [Rule]

    public init(rules: [Rule]) {
        self.rules = rules
    }

    /// The built-in rules as a rules file. Their names are stable: they appear in audit
    /// entries and metrics.
    public static let defaultText = """
        # MedTunnel anomaly rules: one rule per line, # starts a comment.
        #
        #   NAME kinds=KIND,... [reasons=REASON,...] by=phone|pump [distinct=phone|pump]
        #        threshold=N window=DURATION action=alert|lockout
        #
        # A rule counts the events of its kinds (and, if given, reasons) per phone or per pump
        # (by=) over a sliding window, and fires when the count reaches the threshold. With
        # distinct=, it counts distinct phones (or pumps) instead of events. Events without the
        # by= (or distinct=) field are ignored. DURATION is Ns, Nm, Nh or Nd. Once it has fired,
        # a rule stays quiet for that phone or pump for one window, then counts afresh.
        # action=lockout also locks out the rule's subject: the phone (by=phone) or the pump
        # (by=pump).

        # A phone relay tampering with the pump's TLS records: tunnels through it fail with a
        # record error (bad MAC, a record out of place, the stream cut inside a record). A link
        # that simply drops between records (`truncated`) is ordinary radio life and not counted.
        phone_tampering kinds=tunnel_failed,relay_tunnel_failed reasons=recordRejected,truncatedInRecord,badRecordMac,unexpectedMessage by=phone threshold=3 window=10m action=lockout

        # Commands left uncertain through a phone (its session ended before the pump's signed
        # answer came back; most then turn out not applied): a phone that withholds or cuts
        # commands, which it can pick out by record length. Each command counts once. Locking
        # the phone out sends its pumps to another phone; they keep their basal program meanwhile.
        phone_cuts_commands kinds=command_uncertain by=phone threshold=2 window=1h action=lockout

        # Change requests for one pump that the safety policy keeps rejecting.
        pump_rejections kinds=policy_rejection by=pump threshold=5 window=10m action=alert

        # A pump reporting settings other than the ones the gateway holds for it.
        settings_mismatch kinds=settings_mismatch by=pump threshold=1 window=1h action=alert

        # A pump seen behind more than 3 phones in a day.
        pump_many_phones kinds=pump_connected by=pump distinct=phone threshold=4 window=1d action=alert

        # Handshakes presenting a revoked certificate: a pump's, or a phone's.
        revoked_certificate kinds=handshake_failed,relay_handshake_failed reasons=certificateRevoked by=pump threshold=1 window=1h action=alert
        revoked_phone_certificate kinds=handshake_failed,relay_handshake_failed reasons=certificateRevoked by=phone threshold=1 window=1h action=alert

        """

    /// The built-in rules, parsed from ``defaultText``.
    public static var defaults: RuleSet {
        do {
            return try RuleSet(parsing: Self.defaultText, file: "built-in rules")
        } catch {
            preconditionFailure("the built-in rules do not parse: \(error)")
        }
    }

    /// Parses a rules file. `file` names it in errors (`rules.conf:4: ...`).
    public init(parsing text: String, file: String = "rules") throws(RuleFileError) {
        var rules: [Rule] = []
        var lineOfName: [String: Int] = [:]
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for (offset, rawLine) in lines.enumerated() {
            let lineNumber = offset + 1
            let content = rawLine.firstIndex(of: "#").map { rawLine[..<$0] } ?? rawLine
            let tokens = content.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard !tokens.isEmpty else { continue }
            let rule = try RuleLineParser(file: file, line: lineNumber).parse(tokens)
            if let earlier = lineOfName[rule.name] {
                throw RuleFileError(
                    .duplicateRule,
                    file: file,
                    line: lineNumber,
                    "rule '\(rule.name)' is already defined on line \(earlier); give each rule its own name"
                )
            }
            lineOfName[rule.name] = lineNumber
            rules.append(rule)
        }
        self.rules = rules
    }

    /// The rule set as a rules file, one line per rule; ``init(parsing:file:)`` reads it back
    /// to an equal set.
    public var text: String {
        self.rules.map { $0.text + "\n" }.joined()
    }

    /// The rule with this name.
    public subscript(name: String) -> Rule? {
        self.rules.first { $0.name == name }
    }
}
