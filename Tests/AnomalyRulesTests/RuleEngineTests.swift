import AnomalyRules
import Testing

@Suite("Rule engine windows")
struct RuleEngineTests {
    typealias F = EventFixtures

    private func tamperingEngine(maximumTrackedKeys: Int = 50_000) throws -> RuleEngine {
        let rule = try #require(RuleSet.defaults["phone_tampering"])
        return RuleEngine(rules: RuleSet(rules: [rule]), maximumTrackedKeys: maximumTrackedKeys)
    }

    @Test func otherKindsReasonsAndEventsWithoutAPhoneDoNotCount() throws {
        var engine = try self.tamperingEngine()
        var ignored: [ObservedEvent] = []
        for n in 0..<10 {
            let time = F.start + Int64(n) * F.second
            ignored.append(F.tampering(reason: "certificateRevoked", at: time))  // another reason
            ignored.append(F.tampering(reason: nil, at: time))  // no reason
            ignored.append(F.tampering(kind: "handshake_failed", at: time))  // another kind
            ignored.append(F.tampering(phone: nil, at: time))  // no phone: a direct pump
            ignored.append(F.tampering(phone: "", at: time))
        }
        #expect(engine.observe(ignored).isEmpty)
        #expect(engine.trackedKeyCount == 0)
    }

    @Test func twoPhonesDoNotAddUp() throws {
        var engine = try self.tamperingEngine()
        let quiet = engine.observe([
            F.tampering(phone: "PHONE-1", at: F.start),
            F.tampering(phone: "PHONE-2", at: F.start + 1),
            F.tampering(phone: "PHONE-1", at: F.start + 2),
            F.tampering(phone: "PHONE-2", at: F.start + 3),
        ])
        #expect(quiet.isEmpty)
        let firings = engine.observe(F.tampering(phone: "PHONE-1", at: F.start + 4))
        #expect(firings.map(\.subjectValue) == ["PHONE-1"])
    }

    @Test func eventsAWindowOldFallOut() throws {
        var engine = try self.tamperingEngine()
        // The first event is exactly 10 minutes old when the third arrives: it no longer counts.
        let quiet = engine.observe([
            F.tampering(at: F.start),
            F.tampering(at: F.start + 5 * F.minute),
            F.tampering(at: F.start + 10 * F.minute),
        ])
        #expect(quiet.isEmpty)
        let firing = try #require(engine.observe(F.tampering(at: F.start + 14 * F.minute)).first)
        #expect(firing.evidence.map(\.timeMilliseconds) == [5, 10, 14].map { F.start + $0 * F.minute })

        var justInside = try self.tamperingEngine()
        let fired = justInside.observe([
            F.tampering(at: F.start),
            F.tampering(at: F.start + 5 * F.minute),
            F.tampering(at: F.start + 10 * F.minute - 1),
        ])
        #expect(fired.count == 1)
    }

    @Test func aFiredRuleStaysQuietForAWindowThenCountsAfresh() throws {
        var engine = try self.tamperingEngine()
        let first = engine.observe((0..<3).map { F.tampering(at: F.start + $0 * F.second) })
        #expect(first.count == 1)
        let firedAt = F.start + 2 * F.second

        let duringQuiet = (1...20).map { F.tampering(at: firedAt + Int64($0) * 29 * F.second) }
        #expect(duringQuiet.last!.timeMilliseconds < firedAt + 10 * F.minute)
        #expect(engine.observe(duringQuiet).isEmpty)

        // A window after the firing, the count starts from zero: two events are not enough.
        let afterQuiet = (0..<3).map { F.tampering(at: firedAt + 10 * F.minute + $0 * F.second) }
        #expect(engine.observe(Array(afterQuiet.prefix(2))).isEmpty)
        let second = engine.observe(afterQuiet[2])
        #expect(second.count == 1)
        #expect(second.first?.evidence == afterQuiet)
    }

    @Test func onePhoneConnectingTenTimesIsNotManyPhones() throws {
        var engine = RuleEngine(rules: .defaults)
        let samePhone = (0..<10).map { n in
            ObservedEvent(timeMilliseconds: F.start + n * F.minute, kind: "pump_connected", pump: "SN-1", phone: "P-1")
        }
        #expect(engine.observe(samePhone).isEmpty)
        // Three more phones make four distinct ones.
        let others = (2...4).map { n in
            ObservedEvent(timeMilliseconds: F.start + F.hour, kind: "pump_connected", pump: "SN-1", phone: "P-\(n)")
        }
        let firing = try #require(engine.observe(others).first)
        #expect(firing.count == 4)
        // The evidence holds the newest event of each phone.
        #expect(firing.evidence.map(\.phone) == ["P-1", "P-2", "P-3", "P-4"])
        #expect(firing.evidence.first?.timeMilliseconds == F.start + 9 * F.minute)
    }

    @Test func phonesSeenADayApartAreNotCountedTogether() {
        var engine = RuleEngine(rules: .defaults)
        let events = (1...4).map { n in
            ObservedEvent(timeMilliseconds: F.start + n * F.day, kind: "pump_connected", pump: "SN-1", phone: "P-\(n)")
        }
        #expect(engine.observe(events).isEmpty)
        // A connection without a phone (direct) is not counted by pump_many_phones.
        let direct = ObservedEvent(timeMilliseconds: F.start + 4 * F.day, kind: "pump_connected", pump: "SN-1")
        #expect(engine.observe(direct).isEmpty)
    }

    @Test func evidenceKeepsTheNewestTwentyEvents() throws {
        let rule = Rule(
            name: "many",
            kinds: ["policy_rejection"],
            subject: .pump,
            threshold: 50,
            windowMilliseconds: F.hour,
            action: .alert
        )
        var engine = RuleEngine(rules: RuleSet(rules: [rule]))
        let events = (0..<50).map { n in
            ObservedEvent(
                timeMilliseconds: F.start + n * F.second,
                kind: "policy_rejection",
                pump: "SN-1",
                detail: "\(n)"
            )
        }
        let firing = try #require(engine.observe(events).first)
        #expect(firing.count == 50)
        #expect(firing.evidence == Array(events.suffix(20)))
    }

    @Test func trackedWindowsStayBoundedUnderAFloodOfPhones() throws {
        var engine = try self.tamperingEngine(maximumTrackedKeys: 1_000)
        for n in 0..<100_000 {
            let firings = engine.observe(F.tampering(phone: "PHONE-\(n)", at: F.start + Int64(n)))
            #expect(firings.isEmpty)
        }
        #expect(engine.trackedKeyCount == 1_000)
    }

    @Test func theLeastRecentlyUpdatedWindowIsEvicted() throws {
        // A, B, A: B is the least recently updated, so C evicts B and A keeps its two events.
        var engine = try self.tamperingEngine(maximumTrackedKeys: 2)
        let keptA = engine.observe([
            F.tampering(phone: "A", at: F.start),
            F.tampering(phone: "B", at: F.start + 1),
            F.tampering(phone: "A", at: F.start + 2),
            F.tampering(phone: "C", at: F.start + 3),
            F.tampering(phone: "A", at: F.start + 4),
        ])
        #expect(keptA.map(\.subjectValue) == ["A"])

        // A, A, B: A is the least recently updated, so C evicts A and A starts again from one.
        var evicting = try self.tamperingEngine(maximumTrackedKeys: 2)
        let lostA = evicting.observe([
            F.tampering(phone: "A", at: F.start),
            F.tampering(phone: "A", at: F.start + 1),
            F.tampering(phone: "B", at: F.start + 2),
            F.tampering(phone: "C", at: F.start + 3),
            F.tampering(phone: "A", at: F.start + 4),
        ])
        #expect(lostA.isEmpty)
        #expect(evicting.trackedKeyCount == 2)
    }
}
