import MedTunnelIdentity
public import TherapyModel
public import TunnelProtocol

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The pump firmware's command core: verifies, applies and persists signed commands, and
/// answers each with an acknowledgement signed by the device key. Foundation-free; crypto by
/// mbedTLS; persistence through a ``PumpStateStorage`` (a POSIX file in `pump-sim`, two flash
/// slots on the firmware); time is passed in (`now:`). The same files compile as Embedded
/// Swift for the firmware (firmware-profile/): the POSIX parts are behind `canImport(Glibc)`.
///
/// `handle` runs the checks of ``CommandVerdict`` after decoding (`malformed`). A command
/// that passes the signature, serial and sequence checks consumes its sequence whether it
/// is applied or refused, and the new state is durable (file and directory fsync'd) before
/// the acknowledgement exists: a pump that dies between the two has applied the command
/// once, refuses the same envelope afterwards as `replayedSequence`, and its next hello
/// reports the sequence as applied, so the gateway can settle the uncertain command.
///
/// Not thread-safe: one runtime per pump, used from one thread (an event loop) at a time.
public final class PumpRuntime {
    public struct Configuration: Sendable {
        public var serial: String
        public var model: PumpModel
        /// The gateway's command public key (`DIR/command.pem`), pinned.
        public var commandPublicKeyPEM: String
        /// The pump's device key: the private key of its TLS certificate.
        public var deviceKeyPEM: String
        /// The state file, conventionally ``PumpRuntime/stateFilePath(directory:serial:)``:
        /// used by ``PumpRuntime/init(_:factorySettings:)`` (POSIX). Empty when the runtime is
        /// given its storage (``PumpRuntime/init(_:storage:factorySettings:)``).
        public var stateFilePath: String
        /// Test hook: end the process with `_exit(137)` right after a consumed command's
        /// state is durable, before the acknowledgement is built (as a power loss would).
        /// `medtunnel pump-sim` sets it from `MEDTUNNEL_CRASH_AFTER_PERSIST=1`.
        public var crashAfterPersist = false

        public init(
            serial: String,
            model: PumpModel,
            commandPublicKeyPEM: String,
            deviceKeyPEM: String,
            stateFilePath: String
        ) {
            self.serial = serial
            self.model = model
            self.commandPublicKeyPEM = commandPublicKeyPEM
            self.deviceKeyPEM = deviceKeyPEM
            self.stateFilePath = stateFilePath
        }

        /// A configuration for a runtime given its storage (the firmware's flash slots).
        public init(serial: String, model: PumpModel, commandPublicKeyPEM: String, deviceKeyPEM: String) {
            self.init(
                serial: serial,
                model: model,
                commandPublicKeyPEM: commandPublicKeyPEM,
                deviceKeyPEM: deviceKeyPEM,
                stateFilePath: ""
            )
        }
    }

    public let serial: String
    public let model: PumpModel
    public private(set) var state: PumpState
    /// Set once a write of the state failed: memory and disk may disagree, so every later
    /// command is refused (`storageFailed`) until a restart reads the file again.
    public private(set) var storageFailed = false
    private let storage: any PumpStateStorage
    private let crashAfterPersist: Bool
    private let commandKey: CommandVerifyingKey
    let deviceKey: DeviceSigningKey

    /// `STATE/SERIAL.state`.
    public static func stateFilePath(directory: String, serial: String) -> String {
        (directory.hasSuffix("/") ? directory : directory + "/") + serial + ".state"
    }

    #if canImport(Glibc) || canImport(Darwin)
    /// Loads the state file `configuration.stateFilePath`, or creates it with
    /// `factorySettings` when it does not exist. A corrupt file, or one of another pump, is an
    /// error: the pump does not start.
    public convenience init(_ configuration: Configuration, factorySettings: TherapySettings) throws(PumpRuntimeError) {
        try self.init(
            configuration,
            storage: PumpStateFileStorage(path: configuration.stateFilePath),
            factorySettings: factorySettings
        )
    }
    #endif

    /// Loads the state from `storage`, or stores `factorySettings` when it holds nothing.
    /// A corrupt record, or one of another pump, is an error: the pump does not start.
    public init(
        _ configuration: Configuration,
        storage: any PumpStateStorage,
        factorySettings: TherapySettings
    ) throws(PumpRuntimeError) {
        if let problem = DeviceIdentity.validationProblem(configuration.serial) {
            throw PumpRuntimeError(.invalidSerial, "pump serial '\(configuration.serial)' \(problem)")
        }
        guard let commandKey = CommandVerifyingKey(publicKeyPEM: configuration.commandPublicKeyPEM) else {
            throw PumpRuntimeError(.invalidKey, "the pinned command key is not a P-256 public key in PEM")
        }
        guard let deviceKey = DeviceSigningKey(privateKeyPEM: configuration.deviceKeyPEM) else {
            throw PumpRuntimeError(.invalidKey, "the device key is not a P-256 private key in PEM")
        }
        self.serial = configuration.serial
        self.model = configuration.model
        self.storage = storage
        self.crashAfterPersist = configuration.crashAfterPersist
        self.commandKey = commandKey
        self.deviceKey = deviceKey
        if let bytes = try storage.load() {
            guard bytes.count <= PumpStateFile.maximumLength else {
                throw PumpRuntimeError(
                    .stateCorrupt,
                    "\(storage.location) is larger than any state record (\(PumpStateFile.maximumLength) bytes)"
                )
            }
            self.state = try PumpStateFile.decode(bytes, serial: self.serial, path: storage.location)
        } else {
            self.state = PumpState(settings: factorySettings)
            try storage.store(PumpStateFile.encode(self.state, serial: self.serial))
        }
    }

    #if canImport(Glibc) || canImport(Darwin)
    /// The pump's real-time clock (CLOCK_REALTIME), for callers that have no clock of their own.
    /// The firmware has its own clock and passes `now:` from it.
    public static func wallClock() -> Timestamp {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Timestamp(millisecondsSinceEpoch: Int64(now.tv_sec) * 1_000 + Int64(now.tv_nsec) / 1_000_000)
    }
    #endif

    /// SHA-256 of the canonical settings (`SettingsDigest`), by mbedTLS.
    public var settingsDigest: [UInt8] { PumpCrypto.sha256(SettingsDigest.message(for: self.state.settings)) }

    /// The hello this pump sends on every connect: its last applied sequence and digest, its
    /// mode (locked out, suspended) and its model, which the gateway's lockouts by model match.
    public func hello(firmware: String) throws(TunnelProtocolError) -> InnerMessage.Hello {
        try InnerMessage.Hello(
            lastAppliedSequence: self.state.lastAppliedSequence,
            settingsDigest: self.settingsDigest,
            firmware: firmware,
            mode: self.state.mode,
            model: self.model.name
        )
    }

    /// Answers one command frame body (`InnerMessage.command(body:)`) at pump time `now`.
    public func handle(commandBody body: [UInt8], now: Timestamp) -> SignedAcknowledgement {
        let digest = PumpCrypto.sha256(body)
        guard let signed = try? SignedCommand.decode(body[...]) else {
            return self.acknowledge(sequence: 0, digest: digest, .refused(.malformed), now: now)
        }
        let sequence = signed.envelope.sequence
        guard !self.storageFailed else {
            return self.acknowledge(sequence: sequence, digest: digest, .refused(.storageFailed), now: now)
        }
        let verdict = CommandVerdict.decide(
            signed.envelope,
            signatureIsValid: self.commandKey.isValidSignature(signed.signature, for: signed.signedMessage),
            serial: self.serial,
            model: self.model,
            state: self.state,
            now: now
        )
        switch verdict {
        case .refuse(let refusal):
            return self.acknowledge(sequence: sequence, digest: digest, .refused(refusal), now: now)
        case .consume(let result, let next):
            do {
                try self.storage.store(PumpStateFile.encode(next, serial: self.serial))
            } catch {
                self.storageFailed = true
                return self.acknowledge(sequence: sequence, digest: digest, .refused(.storageFailed), now: now)
            }
            self.state = next
            #if canImport(Glibc) || canImport(Darwin)
            if self.crashAfterPersist { _exit(137) }
            #endif
            return self.acknowledge(sequence: sequence, digest: digest, result, now: now)
        }
    }

    private func acknowledge(
        sequence: UInt64,
        digest: [UInt8],
        _ result: CommandResult,
        now: Timestamp
    ) -> SignedAcknowledgement {
        // Every field is valid by construction (the serial passed the certificate's rules,
        // digests are SHA-256, mode bits come from PumpState), so these cannot throw.
        let acknowledgement = try! CommandAcknowledgement(
            serial: self.serial,
            sequence: sequence,
            commandDigest: digest,
            result: result,
            mode: self.state.mode,
            lastAppliedSequence: self.state.lastAppliedSequence,
            settingsDigest: self.settingsDigest,
            pumpTime: now
        )
        let signature = self.deviceKey.sign(CommandAcknowledgement.signingContext + acknowledgement.fieldBytes)
        return try! SignedAcknowledgement(acknowledgement, signature: signature)
    }
}

@available(*, unavailable)
extension PumpRuntime: Sendable {}
