/// A pump's last 24 hours as an SVG picture: glucose as a line over the target band, the basal
/// rate as a stepped area beneath it, boluses as marks on their own row. People look at this
/// rather than read it, so it favours shape over numbers; every mark has a `<title>` with the
/// exact value. Pure: the same data gives the same bytes. Amounts stay integers throughout.
struct PumpChart {
    struct GlucosePoint: Equatable {
        let timeMilliseconds: Int64
        let mgPerDL: Int
    }
    struct BasalPoint: Equatable {
        let timeMilliseconds: Int64
        let milliunitsPerHour: Int64
    }
    struct Bolus: Equatable {
        let timeMilliseconds: Int64
        let milliunits: Int64
    }

    static let window: Int64 = 24 * 3_600_000
    static let width = 960
    static let left = 48
    static let right = 12
    static let glucoseTop = 16
    static let glucoseHeight = 180
    static let bolusRow = 214
    static let basalTop = 236
    static let basalHeight = 60
    static let height = 320
    /// Glucose axis 40…400 mg/dL; the target band 70…180.
    static let glucoseRange = 40...400

    var glucose: [GlucosePoint]
    var basal: [BasalPoint]
    var boluses: [Bolus]
    /// The right edge: now.
    var end: Int64

    func x(_ time: Int64) -> Int {
        let plot = Int64(Self.width - Self.left - Self.right)
        let offset = min(max(time - (self.end - Self.window), 0), Self.window)
        return Self.left + Int(offset * plot / Self.window)
    }

    func glucoseY(_ value: Int) -> Int {
        let clamped = min(max(value, Self.glucoseRange.lowerBound), Self.glucoseRange.upperBound)
        let span = Self.glucoseRange.upperBound - Self.glucoseRange.lowerBound
        return Self.glucoseTop + Self.glucoseHeight - (clamped - Self.glucoseRange.lowerBound) * Self.glucoseHeight
            / span
    }

    func basalY(_ rate: Int64, maximum: Int64) -> Int {
        Self.basalTop + Self.basalHeight - Int(min(rate, maximum) * Int64(Self.basalHeight) / max(maximum, 1))
    }

    var svg: String {
        let start = self.end - Self.window
        let inWindow = { (time: Int64) in time >= start && time <= self.end }
        var out = """
            <svg class="chart" id="pump-chart" viewBox="0 0 \(Self.width) \(Self.height)" role="img" \
            aria-label="glucose, basal rate and boluses over the last 24 hours" xmlns="http://www.w3.org/2000/svg">
            """
        // Hour grid and labels, every 6 hours back from now.
        for hoursBack in stride(from: 24, through: 0, by: -6) {
            let x = self.x(self.end - Int64(hoursBack) * 3_600_000)
            out +=
                "<line class=\"grid\" x1=\"\(x)\" y1=\"\(Self.glucoseTop)\" x2=\"\(x)\" y2=\"\(Self.basalTop + Self.basalHeight)\"/>"
            out +=
                "<text x=\"\(x)\" y=\"\(Self.height - 6)\" text-anchor=\"middle\">\(hoursBack == 0 ? "now" : "−\(hoursBack) h")</text>"
        }
        let bandTop = self.glucoseY(180)
        let bandBottom = self.glucoseY(70)
        out +=
            "<rect class=\"range\" x=\"\(Self.left)\" y=\"\(bandTop)\" width=\"\(Self.width - Self.left - Self.right)\" height=\"\(bandBottom - bandTop)\"><title>target 70–180 mg/dL</title></rect>"
        for mark in [70, 180, 300] {
            out += "<text x=\"\(Self.left - 6)\" y=\"\(self.glucoseY(mark) + 4)\" text-anchor=\"end\">\(mark)</text>"
        }
        // Glucose: a polyline broken where readings are missing for more than 30 minutes.
        let readings = self.glucose.filter { inWindow($0.timeMilliseconds) && $0.mgPerDL > 0 }
            .sorted { $0.timeMilliseconds < $1.timeMilliseconds }
        var segments: [[GlucosePoint]] = []
        for reading in readings {
            if let last = segments.last?.last, reading.timeMilliseconds - last.timeMilliseconds <= 30 * 60_000 {
                segments[segments.count - 1].append(reading)
            } else {
                segments.append([reading])
            }
        }
        for segment in segments {
            let points = segment.map { "\(self.x($0.timeMilliseconds)),\(self.glucoseY($0.mgPerDL))" }
            out += "<polyline class=\"glucose\" points=\"\(points.joined(separator: " "))\"/>"
        }
        if let latest = readings.last {
            out +=
                "<circle class=\"glucose-now\" cx=\"\(self.x(latest.timeMilliseconds))\" cy=\"\(self.glucoseY(latest.mgPerDL))\" r=\"3\"><title>\(latest.mgPerDL) mg/dL</title></circle>"
        }
        // Basal: a step area, each rate held until the next report.
        let rates = self.basal.filter { inWindow($0.timeMilliseconds) }.sorted {
            $0.timeMilliseconds < $1.timeMilliseconds
        }
        let maximum = max(rates.map(\.milliunitsPerHour).max() ?? 0, 1_000)
        if !rates.isEmpty {
            var path = "M\(self.x(rates[0].timeMilliseconds)),\(Self.basalTop + Self.basalHeight)"
            for (i, rate) in rates.enumerated() {
                let y = self.basalY(rate.milliunitsPerHour, maximum: maximum)
                let until = i + 1 < rates.count ? rates[i + 1].timeMilliseconds : self.end
                path += " L\(self.x(rate.timeMilliseconds)),\(y) L\(self.x(until)),\(y)"
            }
            path += " L\(self.x(self.end)),\(Self.basalTop + Self.basalHeight) Z"
            out +=
                "<path class=\"basal\" d=\"\(path)\"><title>basal rate, up to \(Units.text(maximum))/h</title></path>"
        }
        out += "<text x=\"\(Self.left - 6)\" y=\"\(Self.basalTop + 10)\" text-anchor=\"end\">basal</text>"
        // Boluses: a mark each, sized a little by amount.
        for bolus in self.boluses where inWindow(bolus.timeMilliseconds) {
            let x = self.x(bolus.timeMilliseconds)
            let size = 4 + Int(min(bolus.milliunits, 10_000) / 2_000)
            out +=
                "<path class=\"bolus\" d=\"M\(x),\(Self.bolusRow + size) L\(x - size),\(Self.bolusRow - size) L\(x + size),\(Self.bolusRow - size) Z\"><title>bolus \(Units.text(bolus.milliunits))</title></path>"
        }
        out += "<text x=\"\(Self.left - 6)\" y=\"\(Self.bolusRow + 4)\" text-anchor=\"end\">bolus</text>"
        out += "</svg>"
        out +=
            "<p class=\"legend\"><span class=\"g\">― glucose (mg/dL)</span><span class=\"b\">▆ basal rate</span><span class=\"m\">▼ bolus</span> \(readings.count) readings, \(self.boluses.filter { inWindow($0.timeMilliseconds) }.count) boluses</p>"
        return out
    }
}

/// Insulin amounts for people: integer milliunits shown as units with three decimals.
enum Units {
    static func text(_ milliunits: Int64) -> String {
        let sign = milliunits < 0 ? "−" : ""
        let magnitude = milliunits.magnitude
        let fraction = String(magnitude % 1000)
        return "\(sign)\(magnitude / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction) U"
    }
}
