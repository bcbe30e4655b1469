import Testing

@testable import Console

@Suite("Console: the 24-hour pump chart")
struct PumpChartTests {
    static let end: Int64 = 1_796_205_600_000
    static let minute: Int64 = 60_000

    @Test("glucose breaks where readings stop for over 30 minutes; marks outside the 24 hours are left out")
    func segments() {
        let chart = PumpChart(
            glucose: [
                .init(timeMilliseconds: Self.end - 200 * Self.minute, mgPerDL: 120),
                .init(timeMilliseconds: Self.end - 195 * Self.minute, mgPerDL: 130),
                .init(timeMilliseconds: Self.end - 100 * Self.minute, mgPerDL: 250),
                .init(timeMilliseconds: Self.end - 95 * Self.minute, mgPerDL: 240),
                .init(timeMilliseconds: Self.end - 25 * 60 * Self.minute, mgPerDL: 90),
            ],
            basal: [.init(timeMilliseconds: Self.end - 300 * Self.minute, milliunitsPerHour: 850)],
            boluses: [
                .init(timeMilliseconds: Self.end - 60 * Self.minute, milliunits: 2_500),
                .init(timeMilliseconds: Self.end - 30 * 60 * Self.minute, milliunits: 1_000),
            ],
            end: Self.end
        )
        let svg = chart.svg
        #expect(svg.components(separatedBy: "<polyline class=\"glucose\"").count - 1 == 2)
        #expect(svg.contains("<title>bolus 2.5 U</title>") || svg.contains("<title>bolus 2.500 U</title>"))
        #expect(!svg.contains("bolus 1.000 U") && !svg.contains("bolus 1 U"))
        #expect(svg.contains("4 readings, 1 boluses"))
        #expect(svg.contains("<path class=\"basal\""))
        #expect(chart.svg == svg, "the same data draws the same picture")
    }

    @Test("the axes: now at the right edge, 24 h ago at the left, glucose clamped to the axis")
    func axes() {
        let chart = PumpChart(glucose: [], basal: [], boluses: [], end: Self.end)
        #expect(chart.x(Self.end) == PumpChart.width - PumpChart.right)
        #expect(chart.x(Self.end - PumpChart.window) == PumpChart.left)
        #expect(chart.glucoseY(1_000) == chart.glucoseY(400))
        #expect(chart.glucoseY(10) == PumpChart.glucoseTop + PumpChart.glucoseHeight)
        #expect(Units.text(2_500) == "2.500 U" && Units.text(25) == "0.025 U")
    }
}
