/// An error of the witness, of its cosignatures or of a cosignature check.
///
/// Equality is on `code` only, so callers and tests match on the kind of failure, not on wording.
public struct WitnessError: Error, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Backing: String, Hashable, Sendable {
            case rollback, fork, badLogSignature, wrongOrigin, halted
            case logUnreachable, submitFailed, keyFile, stateFile, invalidKey
            case noCosignature, staleCosignature, invalidCosignature
        }
        private let backing: Backing
        private init(_ backing: Backing) { self.backing = backing }

        /// The log showed a smaller tree than one the witness cosigned.
        public static let rollback = Code(.rollback)
        /// The log showed the same size with another root, or a tree its consistency proof does not extend.
        public static let fork = Code(.fork)
        /// The checkpoint does not parse or is not signed by the pinned log key (tampered in transit?).
        public static let badLogSignature = Code(.badLogSignature)
        /// The checkpoint names another log than the one this witness follows.
        public static let wrongOrigin = Code(.wrongOrigin)
        /// The witness refused this log earlier (rollback or fork) and cosigns nothing until reset.
        public static let halted = Code(.halted)
        /// The log's checkpoint or proof could not be fetched.
        public static let logUnreachable = Code(.logUnreachable)
        /// The cosignature was made but the gateway did not take it.
        public static let submitFailed = Code(.submitFailed)
        /// The witness key file is missing, malformed or readable by others.
        public static let keyFile = Code(.keyFile)
        /// The witness state file is unreadable or cannot be written durably.
        public static let stateFile = Code(.stateFile)
        /// A verifier key (vkey) is not a well-formed Ed25519 cosignature key.
        public static let invalidKey = Code(.invalidKey)
        /// No cosignature by the required witness on the checkpoint.
        public static let noCosignature = Code(.noCosignature)
        /// The witness's cosignature is older than the allowed age (or from the future).
        public static let staleCosignature = Code(.staleCosignature)
        /// A cosignature line by the witness's key does not verify.
        public static let invalidCosignature = Code(.invalidCosignature)

        /// A stable snake-free name for logs, state files and API answers, e.g. `fork`.
        public var name: String { self.backing.rawValue }
        public var description: String { self.backing.rawValue }

        /// The code of a stored name (a state file's refusal); nil for an unknown one.
        public init?(name: String) {
            guard let backing = Backing(rawValue: name) else { return nil }
            self.backing = backing
        }
    }

    public var code: Code
    public var reason: String
    public var file: String
    public var line: Int

    public init(_ code: Code, _ reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    public var description: String { "\(self.reason) [\(self.code)] (\(self.file):\(self.line))" }

    public static func == (lhs: WitnessError, rhs: WitnessError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.code) }
}
