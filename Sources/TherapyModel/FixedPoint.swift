/// Signed fixed-point arithmetic in Q8.55: an `Int64` holding `value × 2^55`, so values lie
/// in about −256 … 256 with a resolution of 2^−55 ≈ 2.8 × 10^−17.
///
/// Used to evaluate the insulin model without floating point (the module also builds as
/// Embedded Swift for pump firmware). Products and quotients go through 128-bit
/// intermediates (`multipliedFullWidth`, `dividingFullWidth`), which compile to plain 64-bit
/// instructions on 32-bit targets too. Every operation rounds to nearest, halves away from
/// zero. Callers keep results in range; an out-of-range result traps.
enum FixedPoint {
    static let fractionBits = 55
    /// 1.0
    static let one: Int64 = 1 << 55
    /// ln 2 = 0.693147180559945309417… rounded to Q55 (error 0.16 × 2^−55).
    static let ln2: Int64 = 24_973_259_072_661_437

    /// `round(a × b / 2^55)`.
    static func multiply(_ a: Int64, _ b: Int64) -> Int64 {
        let product = a.magnitude.multipliedFullWidth(by: b.magnitude)
        let (low, carry) = product.low.addingReportingOverflow(1 << (fractionBits - 1))
        let high = carry ? product.high + 1 : product.high
        precondition(high >> (fractionBits - 1) == 0, "fixed-point product out of range")
        let magnitude = Int64(high << (64 - fractionBits) | low >> fractionBits)
        return (a < 0) != (b < 0) ? -magnitude : magnitude
    }

    /// `round(a × b / c)` for `c > 0`.
    static func multiplyDivide(_ a: Int64, _ b: Int64, _ c: Int64) -> Int64 {
        let magnitude = Int64(roundedQuotient(a.magnitude, b.magnitude, c.magnitude))
        return (a < 0) != (b < 0) ? -magnitude : magnitude
    }

    /// `round(a × b / c)` in unsigned 64-bit, with a 128-bit product; `c > 0` and the
    /// quotient must fit in 64 bits.
    static func roundedQuotient(_ a: UInt64, _ b: UInt64, _ c: UInt64) -> UInt64 {
        let product = a.multipliedFullWidth(by: b)
        let (low, carry) = product.low.addingReportingOverflow(c / 2)
        let high = carry ? product.high + 1 : product.high
        return c.dividingFullWidth((high: high, low: low)).quotient
    }

    /// `numerator / denominator` as a Q55 value (`denominator > 0`).
    static func ratio(_ numerator: Int64, _ denominator: Int64) -> Int64 {
        multiplyDivide(numerator, one, denominator)
    }

    /// e^−x for a Q55 `x ≥ 0`, in Q55.
    ///
    /// Range reduction `x = k·ln 2 + r` with `0 ≤ r < ln 2`, then `e^−r` by its Taylor
    /// series to the 20th power in Horner form (the first term left out is below
    /// 0.7^21/21! < 10^−22), then `e^−x = e^−r / 2^k` by a rounding shift. The error is
    /// at most a few units of 2^−55 (the rounded ln 2 contributes k × 0.16 of them), so
    /// about 10^−16 absolute for the x ≤ 40 the insulin model uses.
    static func expNegative(_ x: Int64) -> Int64 {
        precondition(x >= 0, "expNegative takes x >= 0")
        let k = x / ln2
        guard k < 62 else { return 0 }
        let r = x - k * ln2
        // e^−r = 1 − r(1 − r/2 (1 − r/3 (1 − …)))
        var series = one
        for n in stride(from: Int64(20), through: 1, by: -1) {
            series = one - multiplyDivide(r, series, n * one)
        }
        guard k > 0 else { return series }
        return (series + (1 << (k - 1))) >> k
    }
}
