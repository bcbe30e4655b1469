extension InsulinModel {
    /// The fraction of a dose still to act, in parts per million, for each whole minute
    /// `0 ... delay + duration` after delivery: `1_000_000` up to the delay, `0` from
    /// `delay + duration` on, and between them the exponential curve in fixed point.
    ///
    /// The curve is LoopKit's (`ExponentialInsulinModel`, Loop issue 388) with `td` the
    /// duration, `tp` the peak and `t` the minutes since the delay ended:
    ///
    ///     τ = tp(1 − tp/td) / (1 − 2tp/td)     a = 2τ/td     S = 1 / (1 − a + (1 + a)e^−td/τ)
    ///     remaining(t) = 1 − S(1 − a)[(t² / (τ·td·(1 − a)) − t/τ − 1)e^−t/τ + 1]
    ///
    /// With `x = t/τ` and `h = 1 − (1 + x)e^−x` the bracket times `(1 − a)` is
    /// `h + a(x²e^−x/2 − h)`, which has no division by `1 − a` (that can come close to 0,
    /// for a peak near 0.29 × the duration). `τ`, `a` and `x` are ratios of the integer
    /// parameters, so the only approximations are Q55 rounding and `e^−x`
    /// (`FixedPoint.expNegative`).
    ///
    /// Error, measured over 1,323 models (the presets; every duration 120…720 in steps of 10
    /// with peaks every 10 minutes plus the two latest valid peaks; durations 121, 359, 361,
    /// 719, 720 at their extreme peaks), every minute: before the final rounding to ppm the
    /// fixed-point value is within 4.1 × 10^−4 ppm of a 40-digit decimal evaluation (worst
    /// for a peak just under half the duration, where `a` reaches 180 and `1/S` falls to
    /// 2 × 10^−5; the presets are within 10^−9 ppm). So each entry is the correctly
    /// rounded ppm unless the exact value lies that close to a half; against the
    /// straightforward `Double` formula (itself off by up to 3 × 10^−3 ppm at those extremes)
    /// 12 of 649,667 entries differ, each by 1 ppm. The table is made non-increasing by
    /// taking the minimum with the entry before, a guard that changed no measured entry.
    static func makeTable(actionDurationMinutes: Int, peakMinutes: Int, delayMinutes: Int) -> [UInt32] {
        let curve = ExponentialCurve(actionDurationMinutes: actionDurationMinutes, peakMinutes: peakMinutes)
        let count = delayMinutes + actionDurationMinutes + 1
        var table = [UInt32](repeating: 0, count: count)
        var previous = UInt32(partsPerMillion)
        for minute in 0..<count {
            let sinceDelay = minute - delayMinutes
            let value: UInt32
            if sinceDelay <= 0 {
                value = UInt32(partsPerMillion)
            } else if sinceDelay >= actionDurationMinutes {
                value = 0
            } else {
                value = min(UInt32(curve.partsPerMillionRemaining(afterMinutes: Int64(sinceDelay))), previous)
            }
            table[minute] = value
            previous = value
        }
        return table
    }

    /// One million: a whole dose, in parts per million.
    static var partsPerMillion: Int64 { 1_000_000 }
}

/// The exponential curve's constants in Q55, from integer duration and peak.
private struct ExponentialCurve {
    /// τ = tauNumerator / tauDenominator minutes.
    let tauNumerator: Int64
    let tauDenominator: Int64
    /// a = 2τ/td (Q55; up to 180 for a peak just under half a 720-minute duration).
    let a: Int64
    /// 1/S = 1 − a + (1 + a)e^−td/τ (Q55; positive, at least 2 × 10^−5 for valid models).
    let inverseS: Int64

    init(actionDurationMinutes: Int, peakMinutes: Int) {
        let duration = Int64(actionDurationMinutes)
        let peak = Int64(peakMinutes)
        tauNumerator = peak * (duration - peak)
        tauDenominator = duration - 2 * peak
        a = FixedPoint.ratio(2 * tauNumerator, duration * tauDenominator)
        let u = FixedPoint.ratio(duration * tauDenominator, tauNumerator)
        inverseS = FixedPoint.one - a + FixedPoint.multiply(FixedPoint.one + a, FixedPoint.expNegative(u))
    }

    /// remaining(t) in ppm, rounded to nearest, for `0 < t < td`.
    func partsPerMillionRemaining(afterMinutes t: Int64) -> Int64 {
        let one = FixedPoint.one
        let x = FixedPoint.ratio(t * tauDenominator, tauNumerator)
        let expX = FixedPoint.expNegative(x)
        let xExpX = FixedPoint.multiply(x, expX)
        // h = 1 − (1 + x)e^−x; halfX2Exp = x²e^−x / 2
        let h = one - expX - xExpX
        let halfX2Exp = FixedPoint.multiplyDivide(xExpX, x, 2 * one)
        // (1 − a) × bracket of the formula, so that remaining = 1 − S × acted
        let acted = h + FixedPoint.multiply(a, halfX2Exp - h)
        let ppm = FixedPoint.multiplyDivide(inverseS - acted, InsulinModel.partsPerMillion, inverseS)
        return min(max(ppm, 0), InsulinModel.partsPerMillion)
    }
}
