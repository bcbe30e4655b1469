import TherapyModel

/// Messages a pump and the gateway exchange inside the inner TLS tunnel.
///
/// Every message is one frame:
///
/// ```
///  0        1                 3
/// +--------+--------+--------+--------------------------+
/// |  type  | body length (u16, big-endian) |   body     |
/// +--------+--------+--------+--------------------------+
/// ```
/// Body lengths are checked against the type's exact or maximum size right after the
/// header, before anything else is read. All integers are big-endian.
///
/// | type | name           | dir        | body                                                             | size   |
/// |------|----------------|------------|------------------------------------------------------------------|--------|
/// | 0x01 | hello          | pump → gw  | version u8 (2), last applied seq u64, settings digest [32], firmware len u8 + ASCII, mode u8, model len u8 + ASCII | 44…171 |
/// | 0x02 | telemetry      | pump → gw  | seq u64, time ms i64, reservoir mU u32, basal mU/h u32, glucose mg/dL u16 (0 none), battery % u8, flags u8 | 28 |
/// | 0x03 | heartbeat      | either     | nonce u64                                                        | 8      |
/// | 0x04 | pairingOffer   | pump → gw  | nonce [16], expiry ms i64: the pairing code the pump shows now  | 24     |
/// | 0x81 | helloAccepted  | gw → pump  | version u8, gateway time ms i64                                  | 9      |
/// | 0x82 | telemetryStored| gw → pump  | seq u64 (the highest telemetry sequence stored)                  | 8      |
/// | 0x83 | heartbeatReply | either     | nonce u64                                                        | 8      |
/// | 0x10 | command        | gw → pump  | a signed command envelope (`CommandEnvelope`'s table)            | 102…598|
/// | 0x90 | acknowledgement| pump → gw  | the pump's signed answer (`CommandAcknowledgement`'s table)      | 158…221|
///
/// A hello of version 1 (firmware last, no mode or model) is still read: its mode is empty
/// and its model unknown (""), which no model lockout matches.
///
/// Types 0x11…0x3F and 0x91…0xBF stay reserved for commands and acknowledgements. An unknown
/// type is an error: a peer that does not speak the same version must be noticed, not ignored.
///
/// A command frame is handed up as its body bytes, checked only for length: the pump
/// runtime decodes and verifies it, and answers every command frame, even one it cannot
/// read, with a signed acknowledgement (`malformed`). An acknowledgement frame is decoded
/// here in full (not verified: that takes the pump's certificate); a malformed one ends the
/// tunnel like any other bad frame.
public enum InnerMessage: Sendable, Equatable {
    case hello(Hello)
    case telemetry(Telemetry)
    case heartbeat(nonce: UInt64)
    case helloAccepted(version: UInt8, gatewayTimeMilliseconds: Int64)
    case telemetryStored(sequence: UInt64)
    case heartbeatReply(nonce: UInt64)
    /// The body of a command frame: a `SignedCommand`'s `encoded` bytes, not yet decoded.
    case command(body: [UInt8])
    case acknowledgement(SignedAcknowledgement)
    /// The pump is showing a pairing code with this nonce and expiry (`PairingCode`), sent after
    /// each `helloAccepted` while the code is unexpired: the gateway takes a scanned code only
    /// if its pump offered it through its own tunnel.
    case pairingOffer(PairingOffer)

    public struct PairingOffer: Sendable, Hashable {
        public static let bodyLength = PairingCode.nonceLength + 8

        public let nonce: [UInt8]
        public let expiresAtMilliseconds: Int64

        /// `nonce` must be 16 bytes.
        public init(nonce: [UInt8], expiresAtMilliseconds: Int64) throws(TunnelProtocolError) {
            guard nonce.count == PairingCode.nonceLength else {
                throw TunnelProtocolError(.invalidField, "pairingOffer.nonce must be 16 bytes, not \(nonce.count)")
            }
            self.nonce = nonce
            self.expiresAtMilliseconds = expiresAtMilliseconds
        }

        /// The offer of the code `code`.
        public init(_ code: PairingCode) {
            self.nonce = code.nonce
            self.expiresAtMilliseconds = code.expiresAt.millisecondsSinceEpoch
        }
    }

    public struct Hello: Sendable, Equatable {
        public static let currentVersion: UInt8 = 2
        public static let maximumFirmwareLength = 64
        public static let maximumModelLength = 64

        public var version: UInt8
        public var lastAppliedSequence: UInt64
        public var settingsDigest: [UInt8]
        public var firmware: String
        /// What the pump says of itself when it connects: locked out, suspended (version 2).
        public var mode: PumpMode
        /// The pump's model name, as in its prescription's model (version 2; "" unknown).
        public var model: String

        /// `settingsDigest` must be 32 bytes; `firmware` and `model` at most 64 printable ASCII bytes.
        public init(
            version: UInt8 = currentVersion,
            lastAppliedSequence: UInt64,
            settingsDigest: [UInt8],
            firmware: String,
            mode: PumpMode = [],
            model: String = ""
        )
            throws(TunnelProtocolError)
        {
            guard settingsDigest.count == 32 else {
                throw TunnelProtocolError(
                    .invalidField,
                    "hello.settingsDigest must be 32 bytes, not \(settingsDigest.count)"
                )
            }
            guard Self.isPrintable(firmware, maximum: Self.maximumFirmwareLength) else {
                throw TunnelProtocolError(.invalidField, "hello.firmware must be at most 64 printable ASCII characters")
            }
            guard Self.isPrintable(model, maximum: Self.maximumModelLength) else {
                throw TunnelProtocolError(.invalidField, "hello.model must be at most 64 printable ASCII characters")
            }
            self.version = version
            self.lastAppliedSequence = lastAppliedSequence
            self.settingsDigest = settingsDigest
            self.firmware = firmware
            self.mode = mode
            self.model = model
        }

        static func isPrintable(_ text: String, maximum: Int) -> Bool {
            let bytes = text.utf8
            return bytes.count <= maximum && bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F })
        }
    }

    public struct Telemetry: Sendable, Equatable {
        /// Strictly increasing per pump; the gateway stores each sequence once.
        public var sequence: UInt64
        public var timeMilliseconds: Int64
        public var reservoirMilliunits: UInt32
        public var basalRateMilliunitsPerHour: UInt32
        /// 0 when no glucose reading is available.
        public var glucoseMgPerDL: UInt16
        public var batteryPercent: UInt8
        public var flags: Flags

        public struct Flags: OptionSet, Sendable, Equatable {
            public let rawValue: UInt8
            public init(rawValue: UInt8) { self.rawValue = rawValue }
            public static let suspended = Flags(rawValue: 1 << 0)
            public static let lockedOut = Flags(rawValue: 1 << 1)
            public static let occlusion = Flags(rawValue: 1 << 2)
        }

        public init(
            sequence: UInt64,
            timeMilliseconds: Int64,
            reservoirMilliunits: UInt32,
            basalRateMilliunitsPerHour: UInt32,
            glucoseMgPerDL: UInt16,
            batteryPercent: UInt8,
            flags: Flags = []
        ) {
            self.sequence = sequence
            self.timeMilliseconds = timeMilliseconds
            self.reservoirMilliunits = reservoirMilliunits
            self.basalRateMilliunitsPerHour = basalRateMilliunitsPerHour
            self.glucoseMgPerDL = glucoseMgPerDL
            self.batteryPercent = batteryPercent
            self.flags = flags
        }
    }
}

/// Frame layout constants: the spec table above, in numbers.
public enum InnerFrame {
    public static let headerLength = 3
    /// The largest body of any message type: a command envelope carrying a 48-entry
    /// correction range schedule for a 64-character serial.
    public static let maximumBodyLength = CommandEnvelope.bodyLengths.upperBound

    enum MessageType: UInt8 {
        case hello = 0x01
        case telemetry = 0x02
        case heartbeat = 0x03
        case pairingOffer = 0x04
        case helloAccepted = 0x81
        case telemetryStored = 0x82
        case heartbeatReply = 0x83
        case command = 0x10
        case acknowledgement = 0x90

        /// The body length a frame of this type may have.
        var allowedBodyLengths: ClosedRange<Int> {
            switch self {
            case .hello:
                return 42...(44 + InnerMessage.Hello.maximumFirmwareLength + InnerMessage.Hello.maximumModelLength)
            case .telemetry: return 28...28
            case .heartbeat, .telemetryStored, .heartbeatReply: return 8...8
            case .helloAccepted: return 9...9
            case .pairingOffer: return InnerMessage.PairingOffer.bodyLength...InnerMessage.PairingOffer.bodyLength
            case .command: return CommandEnvelope.bodyLengths
            case .acknowledgement: return CommandAcknowledgement.bodyLengths
            }
        }
    }
}
