import Foundation
import Testing
import TherapyJSON
import TherapyModel

@Suite("ISO8601Time: RFC 3339 UTC times by integer arithmetic")
struct ISO8601TimeTests {
    /// (text as formatted, milliseconds since the epoch), computed independently (Python's datetime).
    static let fixed: [(String, Int64)] = [
        ("1970-01-01T00:00:00.000Z", 0),
        ("2026-11-21T07:30:00.000Z", 1_795_246_200_000),
        ("2026-11-21T15:38:57.123Z", 1_795_275_537_123),
        ("2024-02-29T23:59:59.999Z", 1_709_251_199_999),  // leap day, last millisecond
        ("2000-02-29T12:00:00.500Z", 951_825_600_500),  // 2000 is a leap year (divisible by 400)
        ("2100-03-01T00:00:00.000Z", 4_107_542_400_000),  // 2100 is not (divisible by 100)
        ("1900-03-01T00:00:00.000Z", -2_203_891_200_000),  // nor 1900
        ("1969-12-31T23:59:59.999Z", -1),
        ("0001-01-01T00:00:00.000Z", -62_135_596_800_000),
        ("9999-12-31T23:59:59.999Z", 253_402_300_799_999),
    ]

    @Test("fixed values format to the exact text, fractional seconds always three digits, and parse back")
    func fixedValues() {
        for (text, milliseconds) in Self.fixed {
            #expect(ISO8601Time.format(milliseconds: milliseconds) == text)
            #expect(ISO8601Time.format(Timestamp(millisecondsSinceEpoch: milliseconds)) == text)
            #expect(ISO8601Time.parse(text)?.millisecondsSinceEpoch == milliseconds, "\(text)")
        }
    }

    @Test("round trip over random milliseconds of years 0000...9999; the same text as Foundation from 1583 on")
    func roundTrip() {
        var generator = SystemRandomNumberGenerator()
        let reference = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        for _ in 0..<20_000 {
            let milliseconds = Int64.random(in: -62_167_219_200_000...253_402_300_799_999, using: &generator)
            let text = ISO8601Time.format(milliseconds: milliseconds)
            #expect(text.utf8.count == 24)
            #expect(ISO8601Time.parse(text)?.millisecondsSinceEpoch == milliseconds, "\(text)")
            // Whole seconds are exact in a Double, so Foundation's text for them must be ours.
            let (seconds, fraction) = milliseconds.quotientAndRemainder(dividingBy: 1000)
            let whole = fraction < 0 ? seconds - 1 : seconds
            // Before 1583 Foundation counts in the Julian calendar; RFC 3339 is proleptic Gregorian.
            guard whole >= -12_212_553_600 else { continue }
            let foundation = Date(timeIntervalSince1970: Double(whole)).formatted(reference)
            #expect(text.prefix(19) == foundation.prefix(19), "\(milliseconds)")
        }
    }

    @Test("parse: offsets, lower-case t and z, fractions of 1 to 9 digits (truncated to milliseconds)")
    func parseForms() {
        let cases: [(String, Int64)] = [
            ("2026-11-21T07:30:00Z", 1_795_246_200_000),
            ("2026-11-21t07:30:00z", 1_795_246_200_000),
            ("2026-03-01T00:30:00+01:00", 1_772_321_400_000),  // the day before in UTC, a non-leap February
            ("2026-02-28T19:15:00.250-05:30", 1_772_325_900_250),
            ("2026-11-21T07:30:00.5Z", 1_795_246_200_500),
            ("2026-11-21T07:30:00.05Z", 1_795_246_200_050),
            ("2026-11-21T07:30:00.123456789Z", 1_795_246_200_123),
            ("2026-11-21T07:30:00.999999Z", 1_795_246_200_999),
        ]
        for (text, milliseconds) in cases {
            #expect(ISO8601Time.parse(text)?.millisecondsSinceEpoch == milliseconds, "\(text)")
        }
    }

    @Test("parse refuses impossible dates and times and anything not RFC 3339")
    func parseRefusals() {
        for text in [
            "2026-02-29T00:00:00Z",  // not a leap year
            "1900-02-29T00:00:00Z",  // not a leap year (divisible by 100)
            "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-01-00T00:00:00Z",
            "2026-01-01T24:00:00Z", "2026-01-01T23:60:00Z", "2026-01-01T23:59:60Z",
            "2026-01-01T00:00:00", "2026-01-01T00:00:00+0100", "2026-01-01T00:00:00+24:00",
            "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00ZZ", "2026-01-01 00:00:00Z", "2026-1-01T00:00:00Z",
            "2026-01-01", "", "yesterday", "2026-01-01T00:00:00Z ", "+2026-01-01T00:00:00Z",
        ] {
            #expect(ISO8601Time.parse(text) == nil, "\(text)")
        }
    }

    @Test("times outside years 0000...9999 still format, with the year's own digits")
    func farYears() {
        #expect(ISO8601Time.format(milliseconds: 253_402_300_800_000) == "10000-01-01T00:00:00.000Z")
        #expect(ISO8601Time.format(milliseconds: -62_167_219_200_001) == "-1-12-31T23:59:59.999Z")
        #expect(ISO8601Time.format(milliseconds: Int64.max).hasSuffix(".807Z"))
        #expect(ISO8601Time.format(milliseconds: Int64.min).hasPrefix("-"))
    }
}
