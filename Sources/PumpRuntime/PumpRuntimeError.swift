/// Why a pump runtime cannot start. A pump that cannot trust its own state refuses to run
/// rather than guess: a guessed high-water mark could let a replayed bolus through.
public struct PumpRuntimeError: Error, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidKey = "invalid_key"
            case invalidSerial = "invalid_serial"
            case stateCorrupt = "state_corrupt"
            case stateUnsupportedVersion = "state_unsupported_version"
            case stateWrongPump = "state_wrong_pump"
            case stateIOFailed = "state_io_failed"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The command public key or the device key is not a P-256 key in PEM.
        public static let invalidKey = Code(.invalidKey)
        /// The serial is not one a pump certificate can carry.
        public static let invalidSerial = Code(.invalidSerial)
        /// The state file's magic, lengths or checksum are wrong.
        public static let stateCorrupt = Code(.stateCorrupt)
        /// The state file was written by a format this runtime does not read.
        public static let stateUnsupportedVersion = Code(.stateUnsupportedVersion)
        /// The state file belongs to another pump serial.
        public static let stateWrongPump = Code(.stateWrongPump)
        /// Reading or durably writing the state file failed.
        public static let stateIOFailed = Code(.stateIOFailed)

        public var description: String { self.base.rawValue }
    }

    public let code: Code
    public let reason: String

    init(_ code: Code, _ reason: @autoclosure () -> String) {
        self.code = code
        // The firmware (Embedded Swift) keeps the stable code and drops the English: the reasons'
        // literals and string building cost the pump's flash (firmware-profile/README.md), and
        // the gateway, which sees the code, has the words. The autoclosure is never evaluated there.
        #if hasFeature(Embedded)
        self.reason = ""
        #else
        self.reason = reason()
        #endif
    }

    public static func == (lhs: PumpRuntimeError, rhs: PumpRuntimeError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.code) }
    public var description: String { "\(self.code): \(self.reason)" }
}
