import Testing
import TherapyModel

@Suite("Insulin on board")
struct InsulinOnBoardTests {
    static let midnight = Timestamp(millisecondsSinceEpoch: 1_765_000_000_000)
    static let rapid = InsulinModel(kind: .rapidActing)

    static func at(minutes: Int64) -> Timestamp {
        midnight.advanced(byMinutes: minutes)
    }

    static func segment(_ amount: Int64, from start: Timestamp, milliseconds: Int64) -> InsulinDelivery {
        InsulinDelivery(
            start: start,
            end: Timestamp(millisecondsSinceEpoch: start.millisecondsSinceEpoch + milliseconds),
            amount: Milliunits(amount)
        )
    }

    /// 200 seeded random days of boluses and temporary basals above and below the schedule,
    /// at unaligned milliseconds, read at random times from an hour before the day to six
    /// hours after it. The bound: half a milliunit of final rounding plus half a ppm of table
    /// rounding on every milliunit given (measured largest difference: 0.502 mU).
    @Test func agreesWithTheDoubleReferenceOverRandomDays() throws {
        var generator = SeededGenerator(seed: 0x1_0B_2026)
        let models = [
            InsulinModel(kind: .rapidActing), InsulinModel(kind: .ultraRapid),
            try InsulinModel(actionDurationMinutes: 180, peakMinutes: 45, delayMinutes: 0),
            try InsulinModel(actionDurationMinutes: 720, peakMinutes: 359, delayMinutes: 60),
        ]
        let day: Int64 = 86_400_000
        var compared = 0
        for index in 0..<200 {
            let model = models[index % models.count]
            let reference = ExponentialInsulinReference(model)
            let midnight = Timestamp(millisecondsSinceEpoch: Self.midnight.millisecondsSinceEpoch + Int64(index) * day)
            func anyTime() -> Timestamp {
                Timestamp(
                    millisecondsSinceEpoch: midnight.millisecondsSinceEpoch
                        + Int64.random(in: 0..<day, using: &generator)
                )
            }
            var deliveries: [InsulinDelivery] = []
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                deliveries.append(.bolus(Milliunits(Int64.random(in: 50...10_000, using: &generator)), at: anyTime()))
            }
            for _ in 0..<Int.random(in: 0...12, using: &generator) {
                // A net rate of −3 … +5 U/h for 1 ms … 4 h, now and then for up to a day.
                let longest = Int.random(in: 0..<10, using: &generator) == 0 ? day : 4 * 3_600_000
                let milliseconds = Int64.random(in: 1...longest, using: &generator)
                let netRate = Int64.random(in: -3_000...5_000, using: &generator)
                deliveries.append(
                    Self.segment(netRate * milliseconds / 3_600_000, from: anyTime(), milliseconds: milliseconds)
                )
            }
            let given = deliveries.reduce(0.0) { $0 + Double($1.amount.rawValue.magnitude) }
            for _ in 0..<10 {
                let now = Timestamp(
                    millisecondsSinceEpoch: midnight.millisecondsSinceEpoch
                        + Int64.random(in: -3_600_000..<(day + 6 * 3_600_000), using: &generator)
                )
                let onBoard = Double(model.insulinOnBoard(deliveries, at: now).rawValue)
                let expected = reference.insulinOnBoard(deliveries, at: now)
                #expect(abs(onBoard - expected) <= 1, "day \(index), now \(now.millisecondsSinceEpoch)")
                #expect(abs(onBoard - expected) <= 0.5 + given * 0.51e-6, "day \(index)")
                compared += 1
            }
        }
        #expect(compared == 2_000)
    }

    @Test func insulinNotYetGivenCountsFully() {
        let now = Self.at(minutes: 600)
        let deliveries: [InsulinDelivery] = [
            .bolus(Milliunits(1_500), at: Timestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch + 1)),
            .bolus(Milliunits(2_000), at: now.advanced(byMinutes: 300)),
            Self.segment(900, from: now.advanced(byMinutes: 30), milliseconds: 3_600_000),
        ]
        #expect(Self.rapid.insulinOnBoard(deliveries, at: now) == Milliunits(4_400))
        // Half before now, within the 10-minute delay; half after: all of it is on board.
        let straddling = Self.segment(600, from: now.advanced(byMinutes: -5), milliseconds: 600_000)
        #expect(Self.rapid.insulinOnBoard([straddling], at: now) == Milliunits(600))
    }

    @Test func insulinPastTheEffectCountsNothing() {
        let deliveries: [InsulinDelivery] = [
            .bolus(Milliunits(10_000), at: Self.midnight),
            Self.segment(5_000, from: Self.at(minutes: -600), milliseconds: 230 * 60_000),
        ]
        #expect(Self.rapid.insulinOnBoard(deliveries, at: Self.at(minutes: 370)) == .zero)
        #expect(Self.rapid.insulinOnBoard(deliveries, at: Self.at(minutes: 360)) > .zero)
        #expect(Self.rapid.insulinOnBoard([], at: Self.midnight) == .zero)
    }

    @Test func aTemporaryBasalBelowTheScheduleLowersInsulinOnBoard() throws {
        let bolus = InsulinDelivery.bolus(Milliunits(2_000), at: Self.midnight)
        let lowTemp = try #require(
            InsulinDelivery.netTempBasal(
                rate: .zero,
                scheduledRate: MilliunitsPerHour(900),
                start: Self.at(minutes: 20),
                minutes: 60
            )
        )
        #expect(lowTemp.amount == Milliunits(-900))
        let now = Self.at(minutes: 120)
        let bolusOnly = Self.rapid.insulinOnBoard([bolus], at: now)
        let tempOnly = Self.rapid.insulinOnBoard([lowTemp], at: now)
        let both = Self.rapid.insulinOnBoard([bolus, lowTemp], at: now)
        #expect(tempOnly < .zero)
        #expect(both < bolusOnly)
        #expect(abs(both.rawValue - (bolusOnly.rawValue + tempOnly.rawValue)) <= 1)
    }

    /// Spreading over `[start, end)` integrates the per-minute fractions exactly, so cutting a
    /// segment anywhere (in proportion to the amount) changes nothing but rounding.
    @Test func splittingASegmentChangesNothing() {
        var generator = SeededGenerator(seed: 42)
        for _ in 0..<200 {
            let start = Self.at(minutes: Int64.random(in: 0..<1_440, using: &generator))
            let length = Int64.random(in: 2...(6 * 3_600_000), using: &generator)
            let cut = Int64.random(in: 1..<length, using: &generator)
            // An amount divisible by the length, so the two parts are exact.
            let perMillisecond = Int64.random(in: -2...3, using: &generator)
            let whole = Self.segment(perMillisecond * length, from: start, milliseconds: length)
            let first = Self.segment(perMillisecond * cut, from: start, milliseconds: cut)
            let second = Self.segment(
                perMillisecond * (length - cut),
                from: Timestamp(millisecondsSinceEpoch: start.millisecondsSinceEpoch + cut),
                milliseconds: length - cut
            )
            let now = Self.at(minutes: Int64.random(in: 0..<1_800, using: &generator))
            let together = Self.rapid.insulinOnBoard([whole], at: now)
            let apart = Self.rapid.insulinOnBoard([first, second], at: now)
            #expect(abs(together.rawValue - apart.rawValue) <= 1)
        }
    }

    /// A bolus at `t` is the limit of a segment ending at `t`; a segment ending before it
    /// starts is read as a bolus at its start.
    @Test func aSegmentShrunkOntoItsEndIsABolus() {
        let now = Self.at(minutes: 97)
        for offset: Int64 in [0, 1, 59_999, 60_000, 90_000, 3_600_000] {
            let time = Timestamp(millisecondsSinceEpoch: Self.midnight.millisecondsSinceEpoch + offset)
            let bolus = Self.rapid.insulinOnBoard([.bolus(Milliunits(4_000), at: time)], at: now)
            let justBefore = Timestamp(millisecondsSinceEpoch: time.millisecondsSinceEpoch - 1)
            let point = Self.rapid.insulinOnBoard([Self.segment(4_000, from: justBefore, milliseconds: 1)], at: now)
            let backwards = InsulinDelivery(
                start: time,
                end: Self.midnight.advanced(byMinutes: -60),
                amount: Milliunits(4_000)
            )
            #expect(point == bolus)
            #expect(Self.rapid.insulinOnBoard([backwards], at: now) == bolus)
        }
    }

    @Test func hostileInputNeitherTrapsNorWraps() {
        let extremes: [Timestamp] = [
            Timestamp(millisecondsSinceEpoch: .min), Timestamp(millisecondsSinceEpoch: .max), Self.midnight,
        ]
        for start in extremes {
            for end in extremes {
                for now in extremes {
                    let positive = InsulinDelivery(start: start, end: end, amount: Milliunits(.max))
                    let negative = InsulinDelivery(start: start, end: end, amount: Milliunits(.min))
                    let up = Self.rapid.insulinOnBoard([positive, positive], at: now)
                    let down = Self.rapid.insulinOnBoard([negative, negative], at: now)
                    #expect(up >= .zero)
                    #expect(down <= .zero)
                }
            }
        }
        // A segment of decades, half of it still to come: half its amount and a little more.
        let decades = InsulinDelivery(
            start: Self.at(minutes: -10_000_000),
            end: Self.at(minutes: 10_000_000),
            amount: Milliunits(20_000_000)
        )
        let onBoard = Self.rapid.insulinOnBoard([decades], at: Self.midnight)
        #expect(onBoard >= Milliunits(10_000_000))
        #expect(onBoard <= Milliunits(10_000_000 + 370))
    }

    @Test(
        "a temporary basal relative to the schedule",
        arguments: [
            (1_500, 800, 30, 350), (0, 850, 7, -99), (1_000, 0, 7, 117), (800, 800, 120, 0), (0, 1_000, 0, 0),
        ] as [(Int64, Int64, Int64, Int64)]
    )
    func netTempBasal(rate: Int64, scheduled: Int64, minutes: Int64, amount: Int64) throws {
        let delivery = try #require(
            InsulinDelivery.netTempBasal(
                rate: MilliunitsPerHour(rate),
                scheduledRate: MilliunitsPerHour(scheduled),
                start: Self.midnight,
                minutes: minutes
            )
        )
        #expect(delivery.amount == Milliunits(amount))
        #expect(delivery.start == Self.midnight)
        #expect(delivery.end == Self.at(minutes: minutes))
    }

    @Test func netTempBasalRefusesNegativeMinutesAndOverflow() {
        let start = Self.midnight
        #expect(InsulinDelivery.netTempBasal(rate: .zero, scheduledRate: .zero, start: start, minutes: -1) == nil)
        let huge = MilliunitsPerHour(.max)
        #expect(
            InsulinDelivery.netTempBasal(rate: huge, scheduledRate: MilliunitsPerHour(-1), start: start, minutes: 1)
                == nil
        )
        #expect(InsulinDelivery.netTempBasal(rate: huge, scheduledRate: .zero, start: start, minutes: 2) == nil)
    }
}
