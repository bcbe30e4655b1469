import Foundation
public import TherapyModel

/// ISO 8601 times (`2026-11-21T07:30:00Z`, optional fractional seconds and offset) to `Timestamp`.
public enum ISO8601Time {
    public static func parse(_ text: String) -> Timestamp? {
        let plain = ISO8601DateFormatter()
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let date = plain.date(from: text) ?? fractional.date(from: text) else { return nil }
        let milliseconds = (date.timeIntervalSince1970 * 1000).rounded()
        guard milliseconds.isFinite, abs(milliseconds) < 9.0e18 else { return nil }
        return Timestamp(millisecondsSinceEpoch: Int64(milliseconds))
    }
}
