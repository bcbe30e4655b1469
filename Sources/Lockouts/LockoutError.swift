/// Why a lockout operation was refused: a stable `code` and a `reason` that names the input,
/// what was wrong and what to do. Equality is on the code.
public struct LockoutError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String, Sendable {
            case unknownScope = "unknown_scope"
            case emptyReason = "empty_reason"
            case notFound = "lockout_not_found"
            case samePerson = "same_person"
            case alreadyLifted = "already_lifted"
            case liftAlreadyRequested = "lift_already_requested"
            case liftNotRequested = "lift_not_requested"
            case storageFailure = "storage_failure"
            case auditFailed = "audit_failed"
            case databaseUnavailable = "database_unavailable"
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        public static let unknownScope = Code(.unknownScope)
        public static let emptyReason = Code(.emptyReason)
        public static let notFound = Code(.notFound)
        public static let samePerson = Code(.samePerson)
        public static let alreadyLifted = Code(.alreadyLifted)
        public static let liftAlreadyRequested = Code(.liftAlreadyRequested)
        public static let liftNotRequested = Code(.liftNotRequested)
        public static let storageFailure = Code(.storageFailure)
        public static let auditFailed = Code(.auditFailed)
        /// The shared database did not answer: the step may or may not be recorded (a commit cut
        /// off), or was not (anything earlier); reading the lockout again tells.
        public static let databaseUnavailable = Code(.databaseUnavailable)

        /// The stable text of the code (`same_person`), as API answers carry it.
        public var rawValue: String { value.rawValue }
        public var description: String { value.rawValue }
    }

    public let code: Code
    public let reason: String
    public let file: String
    public let line: Int

    public init(_ code: Code, _ reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    public var description: String { "\(code): \(reason)" }

    public static func == (lhs: LockoutError, rhs: LockoutError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
