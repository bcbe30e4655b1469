import AnomalyRules
import Testing

@Suite("Built-in rules")
struct DefaultRulesTests {
    typealias F = EventFixtures

    struct Expected: Sendable, CustomTestStringConvertible {
        var name: String
        var kinds: Set<String>
        var reasons: Set<String>?
        var subject: RuleSubject
        var distinct: RuleSubject?
        var threshold: Int
        var window: Int64
        var action: RuleAction
        var testDescription: String { self.name }
    }

    static let expected: [Expected] = [
        Expected(
            name: "phone_tampering",
            kinds: ["tunnel_failed", "relay_tunnel_failed"],
            reasons: ["recordRejected", "truncatedInRecord", "badRecordMac", "unexpectedMessage"],
            subject: .phone,
            threshold: 3,
            window: 10 * F.minute,
            action: .lockout
        ),
        Expected(
            name: "phone_cuts_commands",
            kinds: ["command_uncertain"],
            subject: .phone,
            threshold: 2,
            window: F.hour,
            action: .lockout
        ),
        Expected(
            name: "pump_rejections",
            kinds: ["policy_rejection"],
            subject: .pump,
            threshold: 5,
            window: 10 * F.minute,
            action: .alert
        ),
        Expected(
            name: "settings_mismatch",
            kinds: ["settings_mismatch"],
            subject: .pump,
            threshold: 1,
            window: F.hour,
            action: .alert
        ),
        Expected(
            name: "pump_many_phones",
            kinds: ["pump_connected"],
            subject: .pump,
            distinct: .phone,
            threshold: 4,
            window: F.day,
            action: .alert
        ),
        Expected(
            name: "revoked_certificate",
            kinds: ["handshake_failed", "relay_handshake_failed"],
            reasons: ["certificateRevoked"],
            subject: .pump,
            threshold: 1,
            window: F.hour,
            action: .alert
        ),
        Expected(
            name: "revoked_phone_certificate",
            kinds: ["handshake_failed", "relay_handshake_failed"],
            reasons: ["certificateRevoked"],
            subject: .phone,
            threshold: 1,
            window: F.hour,
            action: .alert
        ),
    ]

    @Test func theBuiltInRulesAreTheDocumentedOnes() {
        let rules = RuleSet.defaults.rules
        #expect(rules.map(\.name) == Self.expected.map(\.name))
        for (rule, expected) in zip(rules, Self.expected) {
            #expect(rule.kinds == expected.kinds, "\(rule.name)")
            #expect(rule.reasons == expected.reasons, "\(rule.name)")
            #expect(rule.subject == expected.subject, "\(rule.name)")
            #expect(rule.distinct == expected.distinct, "\(rule.name)")
            #expect(rule.threshold == expected.threshold, "\(rule.name)")
            #expect(rule.windowMilliseconds == expected.window, "\(rule.name)")
            #expect(rule.action == expected.action, "\(rule.name)")
        }
    }

    @Test("each built-in rule fires exactly at its threshold", arguments: Self.expected)
    func firesAtItsThreshold(_ expected: Expected) throws {
        let rule = try #require(RuleSet.defaults[expected.name])
        var engine = RuleEngine(rules: .defaults)
        let events = (0..<expected.threshold).map { n in
            F.matching(rule, subjectValue: "SUBJECT-7", variant: n, at: F.start + Int64(n) * F.second)
        }
        let belowThreshold = engine.observe(Array(events.dropLast()))
        #expect(belowThreshold.isEmpty)

        let firings = engine.observe(events.last!)
        #expect(firings.map(\.rule) == [expected.name])
        let firing = try #require(firings.first)
        #expect(firing.action == expected.action)
        #expect(firing.subject == expected.subject)
        #expect(firing.subjectValue == "SUBJECT-7")
        #expect(firing.count == expected.threshold)
        #expect(firing.evidence == events)
        #expect(firing.timeMilliseconds == events.last!.timeMilliseconds)
    }

    @Test func aTamperingPhoneIsLockedOutWithAReadableSummary() throws {
        var engine = RuleEngine(rules: .defaults)
        let firings = engine.observe([
            F.tampering(phone: "PHONE-2", reason: "recordRejected", at: F.start),
            F.tampering(phone: "PHONE-2", reason: "truncatedInRecord", at: F.start + F.minute),
            F.tampering(phone: "PHONE-2", reason: "truncatedInRecord", at: F.start + 2 * F.minute),
        ])
        let firing = try #require(firings.first)
        #expect(firings.count == 1)
        #expect(firing.action == .lockout)
        #expect(
            firing.description
                == "phone_tampering: phone PHONE-2: 3 tunnel_failed events in 10m (recordRejected, truncatedInRecord)"
        )
    }

    @Test func aRevokedCertificateAlertsForThePumpAndForThePhone() {
        var engine = RuleEngine(rules: .defaults)
        let event = ObservedEvent(
            timeMilliseconds: F.start,
            kind: "relay_handshake_failed",
            reason: "certificateRevoked",
            pump: "SN-9",
            phone: "PHONE-9",
            detail: "revoked"
        )
        let firings = engine.observe(event)
        #expect(firings.map(\.rule) == ["revoked_certificate", "revoked_phone_certificate"])
        #expect(firings.map(\.subjectValue) == ["SN-9", "PHONE-9"])
        #expect(
            firings.first?.description
                == "revoked_certificate: pump SN-9: 1 relay_handshake_failed event in 1h (certificateRevoked)"
        )
    }

    @Test func aPumpBehindFourPhonesInADayAlertsNamingThePhones() throws {
        var engine = RuleEngine(rules: .defaults)
        let events = (1...4).map { n in
            ObservedEvent(
                timeMilliseconds: F.start + Int64(n) * F.hour,
                kind: "pump_connected",
                pump: "SN-1",
                phone: "P-\(n)"
            )
        }
        let firing = try #require(engine.observe(events).first)
        #expect(firing.rule == "pump_many_phones")
        #expect(firing.description == "pump_many_phones: pump SN-1: 4 distinct phones in 1d (P-1, P-2, P-3, P-4)")
    }
}
