/// A hostile spec that cannot be parsed; ``reason`` names the token.
public struct HostilitySpecError: Error, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case empty, unknownItem, missingValue, badValue, noBehaviour
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The spec, a group or an item is empty.
        public static let empty = Code(.empty)
        /// A word that is neither a behaviour nor an option.
        public static let unknownItem = Code(.unknownItem)
        /// A behaviour or option that needs a value has none.
        public static let missingValue = Code(.missingValue)
        /// A value out of range or of the wrong form.
        public static let badValue = Code(.badValue)
        /// A group with targets but nothing to do.
        public static let noBehaviour = Code(.noBehaviour)

        public var description: String { self.base.rawValue }
    }

    public let code: Code
    public let reason: String
    public let file: String
    public let line: Int

    init(_ code: Code, _ reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.code) }
    public var description: String { "hostile spec \(self.code): \(self.reason)" }
}
