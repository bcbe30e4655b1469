/// A JSON document that does not describe a valid value. `field` is the path of the
/// offending field (`basalSchedule[2].startMinute`; empty for the whole document),
/// `reason` says what was wrong and what to do. Equality is on `code`.
public struct TherapyJSONError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case malformedJSON = "malformed_json"
            case missingField = "missing_field"
            case wrongType = "wrong_type"
            case invalidValue = "invalid_value"
            case unknownField = "unknown_field"
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// Not JSON at all (or not the expected top-level shape).
        public static let malformedJSON = Code(.malformedJSON)
        public static let missingField = Code(.missingField)
        /// A string where a number belongs, a fraction where an integer belongs, `null`.
        public static let wrongType = Code(.wrongType)
        /// Well-typed but not valid: a negative dose, an unsorted schedule, an unknown kind.
        public static let invalidValue = Code(.invalidValue)
        /// A field this format does not have (often a misspelling).
        public static let unknownField = Code(.unknownField)

        public var rawValue: String { base.rawValue }
        public var description: String { base.rawValue }
    }

    public let code: Code
    public let field: String
    public let reason: String
    public let file: String
    public let line: Int

    public init(code: Code, field: String, reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.field = field
        self.reason = reason
        self.file = file
        self.line = line
    }

    public static func == (lhs: TherapyJSONError, rhs: TherapyJSONError) -> Bool {
        lhs.code == rhs.code
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
    }

    public var description: String {
        field.isEmpty ? "\(reason) [\(code)]" : "field '\(field)': \(reason) [\(code)]"
    }
}
