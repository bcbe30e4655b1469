/// What the witness remembers of one log (one origin): the last tree it cosigned and, once it
/// has caught the log lying, the refusal that stops it from cosigning that log again.
public struct WitnessRecord: Codable, Hashable, Sendable {
    /// Why the witness stopped cosigning: the first rollback or fork it saw, with the evidence.
    public struct Refusal: Codable, Hashable, Sendable {
        /// `rollback` or `fork` (`WitnessError.Code.name`).
        public var code: String
        public var reason: String
        /// Seconds since the epoch.
        public var at: UInt64
        /// The signed checkpoint note that contradicted the cosigned tree: the log's own signature
        /// on a lie, to show whoever investigates.
        public var evidence: String
    }

    public var origin: String
    /// The largest tree size cosigned.
    public var size: UInt64
    /// Its root hash, standard base64 (as in the checkpoint).
    public var rootHash: String
    /// When it was last cosigned, seconds since the epoch.
    public var cosignedAt: UInt64
    /// Set once the log is caught; never cleared by the witness itself.
    public var refusal: Refusal?

    public init(origin: String, size: UInt64, rootHash: String, cosignedAt: UInt64, refusal: Refusal? = nil) {
        self.origin = origin
        self.size = size
        self.rootHash = rootHash
        self.cosignedAt = cosignedAt
        self.refusal = refusal
    }
}
