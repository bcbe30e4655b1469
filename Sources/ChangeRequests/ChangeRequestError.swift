/// Why a change-request operation was refused or failed. `reason` names the request, the input
/// and what to do; `from` and `to` are set for `illegalTransition`. Equality is on `code`.
public struct ChangeRequestError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case invalidInput = "invalid_input"
            case notFound = "not_found"
            case idempotencyKeyReused = "idempotency_key_reused"
            case requestInProgress = "request_in_progress"
            case requestBusy = "request_busy"
            case illegalTransition = "illegal_transition"
            case pumpBusy = "pump_busy"
            case unknownCommand = "unknown_command"
            case commandExpired = "command_expired"
            case quarantined
            case auditFailed = "audit_failed"
            case databaseUnavailable = "database_unavailable"
            case storeUnavailable = "store_unavailable"
            case storageFailure = "storage_failure"
            case pairingCodeUsed = "pairing_code_used"
            case pumpAlreadyPaired = "pump_already_paired"
            case pumpNotPaired = "pump_not_paired"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A pump serial, idempotency key or id that is empty, too long or has bad characters.
        public static let invalidInput = Code(.invalidInput)
        public static let notFound = Code(.notFound)
        /// The requester used this idempotency key before with a different body.
        public static let idempotencyKeyReused = Code(.idempotencyKeyReused)
        /// A request with this idempotency key is being recorded right now; retry shortly.
        public static let requestInProgress = Code(.requestInProgress)
        /// Another operation on this request is under way; retry shortly.
        public static let requestBusy = Code(.requestBusy)
        /// The request's state does not allow this step (`from`, `to` say which).
        public static let illegalTransition = Code(.illegalTransition)
        /// The pump has a command sent and not yet settled (sent or uncertain): one at a time.
        public static let pumpBusy = Code(.pumpBusy)
        /// No sent or uncertain command of this pump has this sequence number.
        public static let unknownCommand = Code(.unknownCommand)
        /// The command's expiry has passed; it is not sent.
        public static let commandExpired = Code(.commandExpired)
        /// Recovery found the audit entry behind this request missing or different: never delivered.
        public static let quarantined = Code(.quarantined)
        /// The audit log refused the entry: nothing changed.
        public static let auditFailed = Code(.auditFailed)
        /// The database holding the audit log cannot be reached (or is settling a write cut off
        /// with it): nothing changed; retry once it is back (`/healthz` says when).
        public static let databaseUnavailable = Code(.databaseUnavailable)
        /// A step is in the audit log but could not be stored: the store stopped; restart the
        /// gateway, whose `recover()` completes the step from the log.
        public static let storeUnavailable = Code(.storeUnavailable)
        /// The database could not be read.
        public static let storageFailure = Code(.storageFailure)
        /// A pairing code's nonce was used before: every code pairs once.
        public static let pairingCodeUsed = Code(.pairingCodeUsed)
        /// The pump is bound to a patient already; unpair or transfer it first.
        public static let pumpAlreadyPaired = Code(.pumpAlreadyPaired)
        /// The pump is bound to no patient.
        public static let pumpNotPaired = Code(.pumpNotPaired)

        public var rawValue: String { base.rawValue }
        public var description: String { base.rawValue }

        /// The HTTP status the API answers with.
        public var httpStatus: Int {
            switch base {
            case .invalidInput: 400
            case .notFound, .unknownCommand: 404
            case .idempotencyKeyReused, .requestInProgress, .requestBusy, .illegalTransition, .pumpBusy,
                .commandExpired, .quarantined, .pairingCodeUsed, .pumpAlreadyPaired, .pumpNotPaired:
                409
            case .auditFailed, .storeUnavailable, .databaseUnavailable: 503
            case .storageFailure: 500
            }
        }
    }

    public let code: Code
    public let reason: String
    public let from: ChangeRequestState?
    public let to: ChangeRequestState?
    public let file: String
    public let line: Int

    public init(
        _ code: Code,
        _ reason: String,
        from: ChangeRequestState? = nil,
        to: ChangeRequestState? = nil,
        file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.reason = reason
        self.from = from
        self.to = to
        self.file = file
        self.line = line
    }

    static func illegal(
        _ id: ChangeRequestID,
        from: ChangeRequestState,
        to: ChangeRequestState,
        file: String = #fileID,
        line: Int = #line
    ) -> ChangeRequestError {
        ChangeRequestError(
            .illegalTransition,
            "request \(id) is \(from); it cannot become \(to)",
            from: from,
            to: to,
            file: file,
            line: line
        )
    }

    public var description: String { "\(reason) [\(code)]" }

    public static func == (lhs: ChangeRequestError, rhs: ChangeRequestError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
