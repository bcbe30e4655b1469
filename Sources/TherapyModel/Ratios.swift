/// A carbohydrate ratio in whole grams of carbohydrate covered by one unit of insulin.
public struct CarbRatio: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var gramsPerUnit: Int64

    public init(gramsPerUnit: Int64) {
        self.gramsPerUnit = gramsPerUnit
    }

    public static func < (lhs: CarbRatio, rhs: CarbRatio) -> Bool {
        lhs.gramsPerUnit < rhs.gramsPerUnit
    }

    public var description: String {
        "\(gramsPerUnit) g/U"
    }
}

/// An insulin sensitivity factor: the glucose drop in whole mg/dL for one unit of insulin.
public struct InsulinSensitivity: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var mgdLPerUnit: Int64

    public init(mgdLPerUnit: Int64) {
        self.mgdLPerUnit = mgdLPerUnit
    }

    public static func < (lhs: InsulinSensitivity, rhs: InsulinSensitivity) -> Bool {
        lhs.mgdLPerUnit < rhs.mgdLPerUnit
    }

    public var description: String {
        "\(mgdLPerUnit) mg/dL/U"
    }
}
