extension InsulinModel {
    /// Insulin on board at `now`: the part of `deliveries` still to act, in milliunits,
    /// rounded to the nearest milliunit (halves up).
    ///
    /// How each instant of insulin is read, so that the result errs toward more insulin on
    /// board, the safe side for a bolus limit:
    /// - Insulin delivered `e` milliseconds before `now` counts with
    ///   `fractionRemaining(afterMinutes: ⌊e / 60 000⌋)`: the elapsed time rounded down to
    ///   whole minutes, so at most one minute of decay is left out.
    /// - Insulin delivered after `now` (a bolus timed ahead, clock skew) counts fully.
    /// - A segment's amount is spread evenly over `[start, end)` and each minute-long part of
    ///   it, cut at whole minutes before `now`, counts with its minute's fraction: this
    ///   integrates the per-minute table exactly, and a segment shrunk onto its end gives the
    ///   reading of a bolus at that end. Only the last `effectMinutes` before `now` are visited, so a
    ///   delivery costs at most that many steps however long it is.
    /// - Negative amounts (a temporary basal below the schedule) lower the total.
    ///
    /// The sum is kept exactly in nanounits (milliunits × parts per million) and rounded
    /// once; a segment adds at most 1 nU of rounding. Amounts beyond ±9 × 10^12 mU are
    /// clamped and the total saturates, so hostile input cannot trap.
    public func insulinOnBoard(_ deliveries: [InsulinDelivery], at now: Timestamp) -> Milliunits {
        var total: Int64 = 0
        for delivery in deliveries {
            let (sum, overflow) = total.addingReportingOverflow(remainingNanounits(of: delivery, at: now))
            total = overflow ? (total > 0 ? Int64.max : Int64.min) : sum
        }
        var (milliunits, remainder) = total.quotientAndRemainder(dividingBy: Self.partsPerMillion)
        if remainder < 0 {
            milliunits -= 1
            remainder += Self.partsPerMillion
        }
        return Milliunits(remainder * 2 >= Self.partsPerMillion ? milliunits + 1 : milliunits)
    }

    private static var millisecondsPerMinute: Int64 { 60_000 }
    /// Amounts are clamped to ± this, so that an amount in nanounits fits in 64 bits.
    private static var amountLimit: Int64 { 9_000_000_000_000 }

    /// The part of `delivery` still to act at `now`, in nanounits (mU × ppm).
    private func remainingNanounits(of delivery: InsulinDelivery, at now: Timestamp) -> Int64 {
        let amount = min(max(delivery.amount.rawValue, -Self.amountLimit), Self.amountLimit)
        let start = delivery.start.millisecondsSinceEpoch
        let end = delivery.end.millisecondsSinceEpoch
        guard end > start else {
            return amount * weight(elapsedMinutes: Self.elapsedMinutes(since: start, now: now))
        }
        let length = UInt64(bitPattern: end &- start)
        let nowMilliseconds = now.millisecondsSinceEpoch
        // Delivered after `now`: counts fully.
        let futureLength = end > nowMilliseconds ? UInt64(bitPattern: end &- max(start, nowMilliseconds)) : 0
        // Within the table: minute j holds the instants (now − (j+1) min, now − j min].
        let firstMinute = max(Self.elapsedMinutes(since: end, now: now), 0)
        let lastMinute = min(Self.elapsedMinutes(since: start, now: now), Int64(table.count - 1))
        var weighted: UInt64 = 0  // milliseconds × ppm, at most table.count × 60 000 × 10^6
        if firstMinute <= lastMinute {
            for minute in firstMinute...lastMinute {
                let bucketStart = now.advanced(byMinutes: -(minute + 1)).millisecondsSinceEpoch
                let bucketEnd = now.advanced(byMinutes: -minute).millisecondsSinceEpoch
                let low = max(start, bucketStart)
                let high = min(end, bucketEnd)
                guard high > low else { continue }
                weighted += UInt64(bitPattern: high &- low) * UInt64(table[Int(minute)])
            }
        }
        let magnitude = amount.magnitude
        let nanounits =
            FixedPoint.roundedQuotient(magnitude * UInt64(Self.partsPerMillion), futureLength, length)
            + FixedPoint.roundedQuotient(magnitude, weighted, length)
        return amount < 0 ? -Int64(nanounits) : Int64(nanounits)
    }

    /// Parts per million still to act `elapsedMinutes` after delivery (negative: not yet given).
    private func weight(elapsedMinutes: Int64) -> Int64 {
        guard elapsedMinutes > 0 else { return Self.partsPerMillion }
        guard elapsedMinutes < Int64(table.count) else { return 0 }
        return Int64(table[Int(elapsedMinutes)])
    }

    /// `⌊(now − time) / 1 min⌋`, saturating instead of overflowing.
    private static func elapsedMinutes(since time: Int64, now: Timestamp) -> Int64 {
        let (difference, overflow) = now.millisecondsSinceEpoch.subtractingReportingOverflow(time)
        guard !overflow else { return time > now.millisecondsSinceEpoch ? Int64.min : Int64.max }
        let (quotient, remainder) = difference.quotientAndRemainder(dividingBy: millisecondsPerMinute)
        return remainder < 0 ? quotient - 1 : quotient
    }
}
