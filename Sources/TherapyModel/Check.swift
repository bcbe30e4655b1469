/// Small validation helpers shared by the validating initializers of this module.
enum Check {
    static func nonNegative(_ value: Int64, field: String) throws(TherapyValidationError) {
        guard value >= 0 else {
            throw TherapyValidationError(
                code: .valueNegative,
                field: field,
                reason: "\(field) is \(value), below zero; give a value of 0 or more"
            )
        }
    }

    static func positive(_ value: Int64, field: String) throws(TherapyValidationError) {
        guard value > 0 else {
            throw TherapyValidationError(
                code: .valueNotPositive,
                field: field,
                reason: "\(field) is \(value); give a value above 0"
            )
        }
    }

    static func within(_ range: ClosedRange<Int64>, _ value: Int64, field: String) throws(TherapyValidationError) {
        guard range.contains(value) else {
            throw TherapyValidationError(
                code: .valueOutOfRange,
                field: field,
                reason: "\(field) is \(value), outside \(range.lowerBound)...\(range.upperBound); "
                    + "give a value in that range"
            )
        }
    }
}
