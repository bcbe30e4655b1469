extension InnerMessage {
    /// The frame for this message: header and body.
    public func encoded() -> [UInt8] {
        var body = ByteWriter()
        let type: InnerFrame.MessageType
        switch self {
        case .hello(let hello):
            type = .hello
            body.append(hello.version)
            body.append(hello.lastAppliedSequence)
            body.append(bytes: hello.settingsDigest)
            let firmware = Array(hello.firmware.utf8)
            body.append(UInt8(firmware.count))
            body.append(bytes: firmware)
            if hello.version >= 2 {
                let model = Array(hello.model.utf8)
                body.append(hello.mode.rawValue)
                body.append(UInt8(model.count))
                body.append(bytes: model)
            }
        case .telemetry(let t):
            type = .telemetry
            body.append(t.sequence)
            body.append(UInt64(bitPattern: t.timeMilliseconds))
            body.append(t.reservoirMilliunits)
            body.append(t.basalRateMilliunitsPerHour)
            body.append(t.glucoseMgPerDL)
            body.append(t.batteryPercent)
            body.append(t.flags.rawValue)
        case .heartbeat(let nonce):
            type = .heartbeat
            body.append(nonce)
        case .helloAccepted(let version, let time):
            type = .helloAccepted
            body.append(version)
            body.append(UInt64(bitPattern: time))
        case .telemetryStored(let sequence):
            type = .telemetryStored
            body.append(sequence)
        case .heartbeatReply(let nonce):
            type = .heartbeatReply
            body.append(nonce)
        case .command(let bytes):
            type = .command
            body.append(bytes: bytes)
        case .acknowledgement(let signed):
            type = .acknowledgement
            body.append(bytes: signed.encoded)
        case .pairingOffer(let offer):
            type = .pairingOffer
            body.append(bytes: offer.nonce)
            body.append(offer.expiresAtMilliseconds)
        }
        var frame = ByteWriter()
        frame.append(type.rawValue)
        frame.append(UInt16(body.bytes.count))
        frame.append(bytes: body.bytes)
        return frame.bytes
    }

    /// Decodes one frame's body. The length was already checked against the type.
    static func decode(
        type: InnerFrame.MessageType,
        body: ArraySlice<UInt8>
    ) throws(TunnelProtocolError) -> InnerMessage {
        var reader = ByteReader(body)
        switch type {
        case .hello:
            let version = reader.readUInt8()
            let sequence = reader.readUInt64()
            let digest = reader.readBytes(32)
            let firmwareLength = Int(reader.readUInt8())
            guard reader.remaining >= firmwareLength else {
                throw TunnelProtocolError(
                    .badLength,
                    "hello announces \(firmwareLength) firmware bytes but carries \(reader.remaining)"
                )
            }
            let firmware = String(decoding: reader.readBytes(firmwareLength), as: UTF8.self)
            var mode: PumpMode = []
            var model = ""
            if version >= 2 {
                guard reader.remaining >= 2 else {
                    throw TunnelProtocolError(.badLength, "hello version \(version) ends before its mode and model")
                }
                mode = PumpMode(rawValue: reader.readUInt8())
                guard PumpMode.known.isSuperset(of: mode) else {
                    throw TunnelProtocolError(.invalidField, "hello.mode has unknown bits \(mode.rawValue)")
                }
                let modelLength = Int(reader.readUInt8())
                guard reader.remaining == modelLength else {
                    throw TunnelProtocolError(
                        .badLength,
                        "hello announces \(modelLength) model bytes but carries \(reader.remaining)"
                    )
                }
                model = String(decoding: reader.readBytes(modelLength), as: UTF8.self)
            } else if reader.remaining != 0 {
                throw TunnelProtocolError(
                    .badLength,
                    "hello version 1 announces \(firmwareLength) firmware bytes but carries more"
                )
            }
            return .hello(
                try Hello(
                    version: version,
                    lastAppliedSequence: sequence,
                    settingsDigest: digest,
                    firmware: firmware,
                    mode: mode,
                    model: model
                )
            )
        case .telemetry:
            let telemetry = Telemetry(
                sequence: reader.readUInt64(),
                timeMilliseconds: Int64(bitPattern: reader.readUInt64()),
                reservoirMilliunits: reader.readUInt32(),
                basalRateMilliunitsPerHour: reader.readUInt32(),
                glucoseMgPerDL: reader.readUInt16(),
                batteryPercent: reader.readUInt8(),
                flags: Telemetry.Flags(rawValue: reader.readUInt8())
            )
            guard telemetry.batteryPercent <= 100 else {
                throw TunnelProtocolError(
                    .invalidField,
                    "telemetry.batteryPercent is \(telemetry.batteryPercent), above 100"
                )
            }
            return .telemetry(telemetry)
        case .heartbeat:
            return .heartbeat(nonce: reader.readUInt64())
        case .helloAccepted:
            return .helloAccepted(
                version: reader.readUInt8(),
                gatewayTimeMilliseconds: Int64(bitPattern: reader.readUInt64())
            )
        case .telemetryStored:
            return .telemetryStored(sequence: reader.readUInt64())
        case .heartbeatReply:
            return .heartbeatReply(nonce: reader.readUInt64())
        case .command:
            return .command(body: Array(body))
        case .acknowledgement:
            return .acknowledgement(try SignedAcknowledgement.decode(body))
        case .pairingOffer:
            let nonce = reader.readBytes(PairingCode.nonceLength)
            return .pairingOffer(try PairingOffer(nonce: nonce, expiresAtMilliseconds: reader.readInt64()))
        }
    }
}

/// Splits a byte stream into inner messages. Holds at most one partial frame.
public struct InnerFrameDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0

    public init() {}

    /// Appends bytes from the tunnel. Call ``next()`` until it returns nil after each append:
    /// lengths are checked as soon as a header is complete, so what stays buffered between
    /// appends is less than one maximal frame (3 + ``InnerFrame/maximumBodyLength`` bytes).
    public mutating func append(_ bytes: [UInt8]) {
        if self.start > 0 && self.start == self.buffer.count {
            self.buffer.removeAll(keepingCapacity: true)
            self.start = 0
        }
        self.buffer += bytes
    }

    /// The next complete message, or nil when more bytes are needed.
    public mutating func next() throws(TunnelProtocolError) -> InnerMessage? {
        let available = self.buffer.count - self.start
        guard available >= InnerFrame.headerLength else { return nil }
        let typeByte = self.buffer[self.start]
        let length = Int(self.buffer[self.start + 1]) << 8 | Int(self.buffer[self.start + 2])
        guard let type = InnerFrame.MessageType(rawValue: typeByte) else {
            throw TunnelProtocolError(.unknownType, "type 0x\(String(typeByte, radix: 16)) is not in the spec table")
        }
        guard type.allowedBodyLengths.contains(length) else {
            throw TunnelProtocolError(
                .badLength,
                "\(type) body is \(length) bytes; the spec allows \(type.allowedBodyLengths)"
            )
        }
        guard available >= InnerFrame.headerLength + length else { return nil }
        let bodyStart = self.start + InnerFrame.headerLength
        let body = self.buffer[bodyStart..<(bodyStart + length)]
        self.start = bodyStart + length
        if self.start > 4096 {
            self.buffer.removeFirst(self.start)
            self.start = 0
        }
        return try InnerMessage.decode(type: type, body: body)
    }

    /// Unconsumed bytes: a partial frame. Non-zero when a tunnel closes means truncation.
    public var pendingByteCount: Int { self.buffer.count - self.start }
}
