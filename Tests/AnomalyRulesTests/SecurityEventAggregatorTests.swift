import AnomalyRules
import Testing

@Suite("Security event aggregation")
struct SecurityEventAggregatorTests {
    typealias F = EventFixtures

    private struct Tally {
        var written: [ObservedEvent] = []
        var folded = 0
    }

    private func record(_ events: [ObservedEvent], into aggregator: inout SecurityEventAggregator) -> Tally {
        var tally = Tally()
        for event in events {
            switch aggregator.record(event) {
            case .writeNow(let written): tally.written.append(written)
            case .folded: tally.folded += 1
            }
        }
        return tally
    }

    @Test func aFloodFromOneAddressWritesTwoEntries() {
        var aggregator = SecurityEventAggregator()
        let events = (0..<10_000).map { n in
            F.handshakeFailure(source: "203.0.113.7", at: F.start + Int64(n) * 5)
        }
        let tally = self.record(events, into: &aggregator)
        #expect(tally.written == [events[0]])
        #expect(tally.folded == 9_999)
        #expect(aggregator.flush(now: F.start + F.minute - 1).isEmpty)

        let entries = aggregator.flush(now: F.start + F.minute)
        #expect(
            entries == [
                AggregatedEntry(
                    subject: "203.0.113.7",
                    kind: "handshake_failed",
                    reason: "certificateRejected",
                    minuteStartMilliseconds: F.start,
                    foldedCount: 9_999,
                    first: events[0]
                )
            ]
        )
        #expect(aggregator.openBucketCount == 0)
    }

    @Test func eachMinuteHasItsOwnBucket() {
        var aggregator = SecurityEventAggregator()
        let perMinute = [5, 1, 3]
        let events = perMinute.enumerated().flatMap { minute, count in
            (0..<count).map { n in
                F.tampering(phone: "PHONE-1", at: F.start + Int64(minute) * F.minute + Int64(n) * F.second)
            }
        }
        let tally = self.record(events, into: &aggregator)
        #expect(tally.written.map(\.timeMilliseconds) == [0, 1, 2].map { F.start + $0 * F.minute })

        let entries = aggregator.flush(now: F.start + 3 * F.minute)
        // The minute with one event has nothing folded and no entry.
        #expect(entries.map(\.minuteStartMilliseconds) == [F.start, F.start + 2 * F.minute])
        #expect(entries.map(\.foldedCount) == [4, 2])
        #expect(entries.map(\.subject) == ["SN-100", "SN-100"])  // the pump comes before the phone
    }

    @Test func theCurrentMinuteStaysOpen() {
        var aggregator = SecurityEventAggregator()
        let minuteFive = F.start + 5 * F.minute
        _ = self.record(
            [F.tampering(at: minuteFive + 10), F.tampering(at: minuteFive + 20)],
            into: &aggregator
        )
        #expect(aggregator.flush(now: minuteFive + F.minute - 1).isEmpty)
        #expect(aggregator.openBucketCount == 1)
        #expect(aggregator.flush(now: minuteFive + F.minute).map(\.foldedCount) == [1])
        #expect(aggregator.flush(now: minuteFive + 2 * F.minute).isEmpty)
    }

    @Test func reasonsAndKindsHaveTheirOwnBuckets() {
        var aggregator = SecurityEventAggregator()
        let tally = self.record(
            [
                F.tampering(reason: "recordRejected", at: F.start),
                F.tampering(reason: "truncated", at: F.start + 1),
                F.tampering(reason: "truncated", kind: "relay_tunnel_failed", at: F.start + 2),
                F.tampering(reason: "truncated", at: F.start + 3),
            ],
            into: &aggregator
        )
        #expect(tally.written.count == 3)
        let entries = aggregator.flush(now: F.start + F.minute)
        #expect(entries.map(\.reason) == ["truncated"])
        #expect(entries.map(\.kind) == ["tunnel_failed"])
    }

    @Test func sourcesBeyondTheBucketLimitAreCountedInAnOverflowBucket() {
        var aggregator = SecurityEventAggregator(maximumBuckets: 100)
        let scan = (0..<1_000).map { n in
            F.handshakeFailure(source: "198.51.\(n / 256).\(n % 256)", at: F.start + Int64(n))
        }
        let relayed = (0..<50).map { n in
            ObservedEvent(timeMilliseconds: F.start + Int64(n), kind: "relay_handshake_failed", source: "192.0.2.\(n)")
        }
        let tally = self.record(scan + relayed, into: &aggregator)
        // 100 buckets of their own, then one overflow bucket for each kind.
        #expect(tally.written.count == 102)
        #expect(aggregator.openBucketCount == 102)

        let entries = aggregator.flush(now: F.start + F.minute)
        let overflow = entries.filter { $0.subject == SecurityEventAggregator.overflowSubject }
        #expect(overflow.map(\.kind) == ["handshake_failed", "relay_handshake_failed"])
        #expect(overflow.map(\.foldedCount) == [899, 49])
        #expect(overflow.map(\.first) == [scan[100], relayed[0]])
        // Every event is accounted for: written, or counted in an entry.
        #expect(tally.written.count + entries.map(\.foldedCount).reduce(0, +) == scan.count + relayed.count)
        #expect(aggregator.openBucketCount == 0)
    }
}
