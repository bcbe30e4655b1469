import Testing
import TherapyModel

@Suite("DailySchedule shape")
struct DailyScheduleTests {
    private func schedule(_ starts: [Int]) throws(TherapyValidationError) -> DailySchedule<Int> {
        try DailySchedule(starts.map { DailySchedule<Int>.Entry(startMinute: $0, value: $0) })
    }

    @Test func validScheduleCoversTheDay() throws {
        let value = try schedule([0, 30, 720, 1410])
        #expect(value.segments.map(\.durationMinutes) == [30, 690, 690, 30])
        #expect(value.segments.map(\.durationMinutes).reduce(0, +) == 1440)
        #expect(value.value(atMinute: 0) == 0)
        #expect(value.value(atMinute: 29) == 0)
        #expect(value.value(atMinute: 30) == 30)
        #expect(value.value(atMinute: 1439) == 1410)
        #expect(value.value(atMinute: 1440) == 0)  // wraps to the next day
    }

    @Test func fortyEightHalfHourEntriesAreTheMaximum() throws {
        let full = try schedule(Array(stride(from: 0, to: 1440, by: 30)))
        #expect(full.entries.count == 48)
    }

    @Test(
        "invalid shapes are rejected with their code",
        arguments: [
            ([], "schedule_empty"),
            ([30, 60], "schedule_gap_at_midnight"),
            ([0, 60, 60], "schedule_overlap"),
            ([0, 0], "schedule_overlap"),
            ([0, 120, 60], "schedule_unsorted"),
            ([0, 45], "schedule_start_not_aligned"),
            ([0, 1], "schedule_start_not_aligned"),
            ([0, 1440], "schedule_start_out_of_day"),
            ([-30, 0], "schedule_start_out_of_day"),
            ([0, Int.max], "schedule_start_out_of_day"),
            ([0, Int.min], "schedule_start_out_of_day"),
            (Array(repeating: 0, count: 49), "schedule_too_many_entries"),
        ] as [([Int], String)]
    )
    func invalidShape(starts: [Int], code: String) {
        let thrown = ModelFixtures.validationCode { () throws(TherapyValidationError) in _ = try schedule(starts) }
        #expect(thrown?.rawValue == code)
    }

    @Test func errorNamesTheEntry() {
        do {
            _ = try schedule([0, 120, 60])
            Issue.record("an unsorted schedule was accepted")
        } catch {
            #expect(error.code == .scheduleUnsorted)
            #expect(error.field == "[2].startMinute")
            #expect(error.prefixingField("basalSchedule").field == "basalSchedule[2].startMinute")
            #expect(error.reason.contains("60"))
        }
    }

    @Test func correctionRangeMustBeOrdered() {
        let thrown = ModelFixtures.validationCode { () throws(TherapyValidationError) in
            _ = try CorrectionRange(lower: GlucoseMgdL(121), upper: GlucoseMgdL(120))
        }
        #expect(thrown == .rangeInverted)
        let equal = ModelFixtures.validationCode { () throws(TherapyValidationError) in
            _ = try CorrectionRange(lower: GlucoseMgdL(120), upper: GlucoseMgdL(120))
        }
        #expect(equal == nil)
    }
}
