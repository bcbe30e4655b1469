/// A rules file that does not parse: which line, what was wrong, what to write instead.
///
///     rules.conf:4: window 'ten' is not a duration; write e.g. 10m, 1h or 1d
///
/// Equality is on ``code`` and ``line``.
public struct RuleFileError: Error, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidName
            case malformedToken
            case unknownKey
            case duplicateKey
            case missingKey
            case invalidValue
            case duplicateRule
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The rule's name is not `[a-z0-9_-]{1,64}` (or the line starts with `key=value`).
        public static let invalidName = Code(.invalidName)
        /// A token after the name is not `key=value`.
        public static let malformedToken = Code(.malformedToken)
        /// A key the format does not know (`treshold=3`).
        public static let unknownKey = Code(.unknownKey)
        /// The same key twice on one line.
        public static let duplicateKey = Code(.duplicateKey)
        /// A required key (kinds, by, threshold, window, action) is missing.
        public static let missingKey = Code(.missingKey)
        /// A value that is not valid for its key (`threshold=0`, `window=ten`, `by=foo`, ...).
        public static let invalidValue = Code(.invalidValue)
        /// A rule name already defined on an earlier line.
        public static let duplicateRule = Code(.duplicateRule)

        public var description: String { self.base.rawValue }
    }

    public let code: Code
    /// The rules file's name as given to ``RuleSet/init(parsing:file:)``.
    public let file: String
    /// The 1-based line number in the rules file.
    public let line: Int
    /// What was wrong, naming the token, and what to write instead.
    public let reason: String

    init(_ code: Code, file: String, line: Int, _ reason: String) {
        self.code = code
        self.file = file
        self.line = line
        self.reason = reason
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code && lhs.line == rhs.line }
    public var description: String { "\(self.file):\(self.line): \(self.reason)" }
}
