/// Why an export was refused or stopped.
///
/// Like the log's own errors: a `code` to compare (a struct over a private enum, so codes can be
/// added without breaking callers), a `reason` naming the input and what to do, and where it was
/// raised. Equality is on `code` and `parameter`, never on the wording.
public struct ExportError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String {
            case invalidParameter = "invalid_parameter"
            case corruptEntry = "corrupt_entry"
        }
        private let value: Value

        /// A format or filter the caller gave is not one this exporter takes.
        public static let invalidParameter = Code(value: .invalidParameter)
        /// A stored entry does not decode or does not match its leaf hash: the export stops.
        public static let corruptEntry = Code(value: .corruptEntry)

        public var description: String { self.value.rawValue }
    }

    public let code: Code
    /// The parameter at fault (`format`, `since`, `until`, `kind`, `pump`) for `.invalidParameter`.
    public let parameter: String?
    public let reason: String
    public let file: String
    public let line: Int

    public init(_ code: Code, parameter: String? = nil, _ reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.parameter = parameter
        self.reason = reason
        self.file = file
        self.line = line
    }

    public static func == (lhs: ExportError, rhs: ExportError) -> Bool {
        lhs.code == rhs.code && lhs.parameter == rhs.parameter
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.code)
        hasher.combine(self.parameter)
    }

    public var description: String { "\(self.code): \(self.reason)" }
}
