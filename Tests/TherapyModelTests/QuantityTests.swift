import Testing
import TherapyModel

@Suite("Quantities, time and history totals")
struct QuantityTests {
    @Test(
        arguments: [
            (25, "0.025 U"), (50, "0.05 U"), (1000, "1 U"), (10_050, "10.05 U"), (0, "0 U"), (-1500, "-1.5 U"),
            (Int64.max, "9223372036854775.807 U"), (Int64.min, "-9223372036854775.808 U"),
        ] as [(Int64, String)]
    )
    func milliunitsPrintExactly(raw: Int64, text: String) {
        #expect(Milliunits(raw).description == text)
    }

    @Test func ratesPrintInUnitsPerHour() {
        #expect(MilliunitsPerHour(850).description == "0.85 U/h")
    }

    @Test func basalInsulinRoundsUpAndNeverOverflows() {
        #expect(MilliunitsPerHour(1000).insulin(overMinutes: 30) == Milliunits(500))
        #expect(MilliunitsPerHour(50).insulin(overMinutes: 1) == Milliunits(1))  // 0.83 mU rounds up
        #expect(MilliunitsPerHour(Int64.max).insulin(overMinutes: 2) == nil)
        #expect(MilliunitsPerHour(-50).insulin(overMinutes: 30) == nil)
        #expect(MilliunitsPerHour(50).insulin(overMinutes: -30) == nil)
    }

    @Test func arithmeticReportsOverflowInsteadOfTrapping() {
        #expect(Milliunits(Int64.max).adding(Milliunits(1)) == nil)
        #expect(Milliunits(Int64.max).addingSaturating(Milliunits(1)) == Milliunits(Int64.max))
        #expect(Milliunits(Int64.min).addingSaturating(Milliunits(-1)) == Milliunits(Int64.min))
        #expect(Milliunits(Int64.max).scaled(by: 3, dividedBy: 2) == nil)
        #expect(Milliunits(10_000).scaled(by: 3, dividedBy: 2) == Milliunits(15_000))
        #expect(MilliunitsPerHour(7_033).truncated(toMultipleOf: MilliunitsPerHour(50)) == MilliunitsPerHour(7_000))
        #expect(MilliunitsPerHour(-30).truncated(toMultipleOf: MilliunitsPerHour(50)) == MilliunitsPerHour(-50))
        #expect(
            MilliunitsPerHour(Int64.min + 1).truncated(toMultipleOf: MilliunitsPerHour(50))
                == MilliunitsPerHour(Int64.min)
        )
    }

    @Test func timestampsSaturate() {
        let latest = Timestamp(millisecondsSinceEpoch: Int64.max - 10)
        #expect(latest.advanced(byMinutes: 1).millisecondsSinceEpoch == Int64.max)
        #expect(Timestamp(millisecondsSinceEpoch: 0).advanced(byMinutes: Int64.min).millisecondsSinceEpoch == Int64.min)
        #expect(Timestamp(millisecondsSinceEpoch: 0).advanced(byMinutes: -1).millisecondsSinceEpoch == -60_000)
    }

    @Test func historyWindowIncludesItsStartAndFutureRecords() {
        let now = Timestamp(millisecondsSinceEpoch: 1_000_000_000)
        let hourAgo = now.advanced(byMinutes: -60)
        let history = DeliveryHistory(records: [
            .init(time: hourAgo, kind: .bolus, amount: Milliunits(1000)),
            .init(
                time: Timestamp(millisecondsSinceEpoch: hourAgo.millisecondsSinceEpoch - 1),
                kind: .bolus,
                amount: Milliunits(2000)
            ),
            .init(time: now.advanced(byMinutes: 5), kind: .bolus, amount: Milliunits(4000)),
            .init(time: now, kind: .basal, amount: Milliunits(8000)),
            .init(time: now, kind: .bolus, amount: Milliunits(-16_000)),
        ])
        #expect(history.total(of: [.bolus], inLastMinutes: 60, now: now) == Milliunits(5000))
        #expect(history.total(of: [.bolus, .basal], inLastMinutes: 60, now: now) == Milliunits(13_000))
        #expect(history.total(of: [.bolus], inLastMinutes: 61, now: now) == Milliunits(7000))
    }

    @Test func negativeWindowsAreEmptyAndDoNotTrap() {
        let now = Timestamp(millisecondsSinceEpoch: 0)
        let history = DeliveryHistory(records: [
            .init(time: now.advanced(byMinutes: -1), kind: .bolus, amount: Milliunits(50))
        ])
        #expect(history.total(of: [.bolus], inLastMinutes: Int64.min, now: now) == .zero)
        #expect(history.total(of: [.bolus], inLastMinutes: Int64.max, now: now) == Milliunits(50))
    }

    @Test func historyTotalSaturates() {
        let now = Timestamp(millisecondsSinceEpoch: 0)
        let huge = DeliveryHistory.Record(time: now, kind: .bolus, amount: Milliunits(Int64.max))
        let history = DeliveryHistory(records: [huge, huge])
        #expect(history.total(of: [.bolus], inLastMinutes: 60, now: now) == Milliunits(Int64.max))
    }

    @Test func controlSetsIntersect() {
        let some = ControlSet([.bolus, .suspend])
        #expect(some.contains(.bolus))
        #expect(!some.contains(.resume))
        #expect(some.intersection(ControlSet([.suspend, .resume])).kinds == [.suspend])
        #expect(some.intersection(.empty).isEmpty)
        #expect(ControlSet.all.kinds == ControlKind.allCases)
    }
}
