public import TherapyModel

/// RFC 3339 (ISO 8601) UTC times to and from `Timestamp`, with integer arithmetic: no formatter
/// object, no locale, no floating point, so formatting a time costs a few hundred nanoseconds
/// and a millisecond is never rounded into its neighbour.
///
/// - `format` writes `2026-11-21T07:30:00.123Z`: always UTC, always three fractional digits.
///   Years 0000…9999 have four digits; others (not a real use) as many as they need, with `-`
///   before the year when it is negative.
/// - `parse` reads `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (`t` and `z` also accepted, as
///   RFC 3339 allows): a real calendar date (leap years by the Gregorian rule), hours 00…23,
///   minutes and seconds 00…59 (no leap second 60), offsets up to ±23:59. Fraction digits past
///   the millisecond are dropped (truncated). Anything else is nil.
public enum ISO8601Time {
    private static let millisecondsPerDay: Int64 = 86_400_000

    public static func format(_ timestamp: Timestamp) -> String {
        format(milliseconds: timestamp.millisecondsSinceEpoch)
    }

    /// `milliseconds` since 1970-01-01T00:00:00Z as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    public static func format(milliseconds: Int64) -> String {
        // Floor division, so times before 1970 land in the right day.
        var days = milliseconds / millisecondsPerDay
        var ofDay = milliseconds % millisecondsPerDay
        if ofDay < 0 {
            days -= 1
            ofDay += millisecondsPerDay
        }
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        guard (0...9999).contains(year) else {
            let rest = format(year: 0, month: month, day: day, ofDay: ofDay).dropFirst(4)
            return (year < 0 ? "-" : "") + String(year.magnitude) + rest
        }
        return format(year: year, month: month, day: day, ofDay: ofDay)
    }

    /// The 24 bytes of `YYYY-MM-DDTHH:MM:SS.mmmZ` for a year of 0…9999.
    private static func format(year: Int64, month: Int64, day: Int64, ofDay: Int64) -> String {
        String(unsafeUninitializedCapacity: 24) { buffer in
            func put(_ value: Int64, digits: Int, at offset: Int) {
                var value = value
                for position in stride(from: offset + digits - 1, through: offset, by: -1) {
                    buffer[position] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
            }
            put(year, digits: 4, at: 0)
            buffer[4] = UInt8(ascii: "-")
            put(month, digits: 2, at: 5)
            buffer[7] = UInt8(ascii: "-")
            put(day, digits: 2, at: 8)
            buffer[10] = UInt8(ascii: "T")
            let seconds = ofDay / 1000
            put(seconds / 3600, digits: 2, at: 11)
            buffer[13] = UInt8(ascii: ":")
            put(seconds / 60 % 60, digits: 2, at: 14)
            buffer[16] = UInt8(ascii: ":")
            put(seconds % 60, digits: 2, at: 17)
            buffer[19] = UInt8(ascii: ".")
            put(ofDay % 1000, digits: 3, at: 20)
            buffer[23] = UInt8(ascii: "Z")
            return 24
        }
    }

    public static func parse(_ text: String) -> Timestamp? {
        var reader = Reader(bytes: Array(text.utf8))
        guard let year = reader.digits(4), reader.skip("-"),
            let month = reader.digits(2), reader.skip("-"),
            let day = reader.digits(2), reader.skip("T") || reader.skip("t"),
            let hour = reader.digits(2), reader.skip(":"),
            let minute = reader.digits(2), reader.skip(":"),
            let second = reader.digits(2)
        else { return nil }
        var millisecond: Int64 = 0
        if reader.skip(".") {
            guard let fraction = reader.fraction() else { return nil }
            millisecond = fraction
        }
        var offsetMinutes: Int64 = 0
        if reader.skip("Z") || reader.skip("z") {
            offsetMinutes = 0
        } else if let sign: Int64 = reader.skip("+") ? 1 : reader.skip("-") ? -1 : nil,
            let offsetHours = reader.digits(2), reader.skip(":"), let offsetMinute = reader.digits(2),
            offsetHours <= 23, offsetMinute <= 59
        {
            offsetMinutes = sign * (offsetHours * 60 + offsetMinute)
        } else {
            return nil
        }
        guard reader.atEnd, (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
            hour <= 23, minute <= 59, second <= 59
        else { return nil }
        let days = daysSinceEpoch(year: year, month: month, day: day)
        let local = ((days * 24 + hour) * 60 + minute) * 60 + second
        return Timestamp(millisecondsSinceEpoch: (local - offsetMinutes * 60) * 1000 + millisecond)
    }

    // MARK: Calendar (proleptic Gregorian; H. Hinnant's days_from_civil / civil_from_days)

    static func isLeap(_ year: Int64) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to the date (negative before it).
    static func daysSinceEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
        let year = month <= 2 ? year - 1 : year
        let era = (year >= 0 ? year : year - 399) / 400
        let yearOfEra = year - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date `days` after 1970-01-01.
    static func civilDate(daysSinceEpoch days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private struct Reader {
        let bytes: [UInt8]
        var position = 0

        var atEnd: Bool { position == bytes.count }

        mutating func skip(_ character: Unicode.Scalar) -> Bool {
            guard position < bytes.count, bytes[position] == UInt8(ascii: character) else { return false }
            position += 1
            return true
        }

        /// Exactly `count` ASCII digits.
        mutating func digits(_ count: Int) -> Int64? {
            guard bytes.count - position >= count else { return nil }
            var value: Int64 = 0
            for byte in bytes[position..<position + count] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            position += count
            return value
        }

        /// One or more digits after the decimal point, as whole milliseconds (truncated).
        mutating func fraction() -> Int64? {
            var milliseconds: Int64 = 0
            var count = 0
            while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) {
                if count < 3 { milliseconds = milliseconds * 10 + Int64(bytes[position] - UInt8(ascii: "0")) }
                count += 1
                position += 1
            }
            guard count > 0 else { return nil }
            for _ in count..<max(count, 3) { milliseconds *= 10 }
            return milliseconds
        }
    }
}
