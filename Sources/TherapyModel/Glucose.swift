/// A blood-glucose value in integer mg/dL.
public struct GlucoseMgdL: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var rawValue: Int64

    public init(_ rawValue: Int64) {
        self.rawValue = rawValue
    }

    public static func < (lhs: GlucoseMgdL, rhs: GlucoseMgdL) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    public var description: String {
        "\(rawValue) mg/dL"
    }
}

/// A correction (target) range, `lower ≤ upper`, in mg/dL.
public struct CorrectionRange: Sendable, Hashable, CustomStringConvertible {
    public let lower: GlucoseMgdL
    public let upper: GlucoseMgdL

    /// Throws `rangeInverted` when `lower > upper`.
    public init(lower: GlucoseMgdL, upper: GlucoseMgdL) throws(TherapyValidationError) {
        guard lower <= upper else {
            throw TherapyValidationError(
                code: .rangeInverted,
                field: "lowerMgdL",
                reason: "correction range lower bound \(lower) is above its upper bound \(upper); "
                    + "give the lower bound first"
            )
        }
        self.lower = lower
        self.upper = upper
    }

    public var description: String {
        "\(lower.rawValue)–\(upper.rawValue) mg/dL"
    }
}
