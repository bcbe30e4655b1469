// Canonical binary encoding of an audit entry, version 1. The leaf hash is over exactly these bytes.
//
// All integers big-endian. Lengths are checked before the bytes they count are read, and decoding
// rejects anything `encode` would not produce (trailing bytes, reserved bits, bad UTF-8 or kind
// syntax), so `encode(decode(b)) == b` for every accepted `b`: one entry, one byte string.
//
//  size      field
//  1         format version = 0x01
//  8         index (UInt64)
//  8         time: milliseconds since the Unix epoch (Int64)
//  1 + K     kind: K (1...64), then K bytes from [a-z0-9._-]
//  2 + A     actor id: A (1...256), then UTF-8
//  1 + R     actor role: R (1...64), then bytes from [a-z0-9._-]
//  1         flags: bit 0 pump serial present, bit 1 phone id present; bits 2...7 zero
//  [2 + S]   pump serial: S (0...256), then UTF-8            (if flag bit 0)
//  [2 + P]   phone id: P (0...256), then UTF-8               (if flag bit 1)
//  4 + N     payload: N (0...1 MiB), then N bytes

extension AuditEntry {
    static let formatVersion: UInt8 = 1
    private static let flagPump: UInt8 = 0x01
    private static let flagPhone: UInt8 = 0x02

    /// The canonical bytes of this entry.
    public func encoded() -> [UInt8] {
        let event = self.event
        var out: [UInt8] = []
        out.reserveCapacity(48 + event.actor.id.utf8.count + event.payload.count)
        out.append(Self.formatVersion)
        out.appendInteger(self.index)
        out.appendInteger(UInt64(bitPattern: event.timeMilliseconds))
        out.append(UInt8(event.kind.rawValue.utf8.count))
        out.append(contentsOf: event.kind.rawValue.utf8)
        out.appendInteger(UInt16(event.actor.id.utf8.count))
        out.append(contentsOf: event.actor.id.utf8)
        out.append(UInt8(event.actor.role.utf8.count))
        out.append(contentsOf: event.actor.role.utf8)
        out.append((event.pumpSerial == nil ? 0 : Self.flagPump) | (event.phoneID == nil ? 0 : Self.flagPhone))
        for value in [event.pumpSerial, event.phoneID] {
            if let value {
                out.appendInteger(UInt16(value.utf8.count))
                out.append(contentsOf: value.utf8)
            }
        }
        out.appendInteger(UInt32(event.payload.count))
        out.append(contentsOf: event.payload)
        return out
    }

    /// Decodes canonical bytes; `context` names the input in errors (e.g. "entry 1234").
    public init(decoding bytes: [UInt8], context: String) throws {
        var reader = ByteReader(bytes: bytes, context: context)
        let version = try reader.read(UInt8.self, "version")
        guard version == Self.formatVersion else {
            throw AuditLogError(.malformedEntry, "\(context): unknown format version \(version)")
        }
        let index = try reader.read(UInt64.self, "index")
        let time = Int64(bitPattern: try reader.read(UInt64.self, "time"))
        let kind = try reader.string(length: Int(try reader.read(UInt8.self, "kind length")), "kind")
        let actorID = try reader.string(length: Int(try reader.read(UInt16.self, "actor id length")), "actor id")
        let role = try reader.string(length: Int(try reader.read(UInt8.self, "actor role length")), "actor role")
        let flags = try reader.read(UInt8.self, "flags")
        guard flags & ~(Self.flagPump | Self.flagPhone) == 0 else {
            throw AuditLogError(.malformedEntry, "\(context): reserved flag bits set (0x\(String(flags, radix: 16)))")
        }
        var pump: String?
        var phone: String?
        if flags & Self.flagPump != 0 {
            pump = try reader.string(length: Int(try reader.read(UInt16.self, "pump serial length")), "pump serial")
        }
        if flags & Self.flagPhone != 0 {
            phone = try reader.string(length: Int(try reader.read(UInt16.self, "phone id length")), "phone id")
        }
        let payloadLength = Int(try reader.read(UInt32.self, "payload length"))
        guard payloadLength <= AuditEvent.maximumPayloadBytes else {
            throw AuditLogError(.malformedEntry, "\(context): payload length \(payloadLength) over the maximum")
        }
        let payload = try reader.bytes(payloadLength, "payload")
        guard reader.isAtEnd else {
            throw AuditLogError(.malformedEntry, "\(context): \(reader.remaining) trailing bytes")
        }
        do {
            let event = try AuditEvent(
                timeMilliseconds: time,
                actor: try AuditActor(id: actorID, role: role),
                kind: try AuditKind(kind),
                pumpSerial: pump,
                phoneID: phone,
                payload: payload
            )
            self.init(index: index, event: event)
        } catch let error as AuditLogError {
            throw AuditLogError(.malformedEntry, "\(context): \(error.reason)")
        }
    }
}

/// Reads big-endian fields, checking every length against what is left before reading.
private struct ByteReader {
    let bytes: [UInt8]
    let context: String
    var offset = 0

    init(bytes: [UInt8], context: String) {
        self.bytes = bytes
        self.context = context
    }

    var remaining: Int { self.bytes.count - self.offset }
    var isAtEnd: Bool { self.offset == self.bytes.count }

    mutating func bytes(_ count: Int, _ field: String) throws -> [UInt8] {
        guard count <= self.remaining else {
            throw AuditLogError(
                .malformedEntry,
                "\(self.context): \(field) needs \(count) bytes at offset \(self.offset), \(self.remaining) left"
            )
        }
        defer { self.offset += count }
        return Array(self.bytes[self.offset..<self.offset + count])
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ field: String) throws -> T {
        try self.bytes(MemoryLayout<T>.size, field).reduce(T.zero) { ($0 << 8) | T($1) }
    }

    mutating func string(length: Int, _ field: String) throws -> String {
        let raw = try self.bytes(length, field)
        guard let value = String(validating: raw, as: UTF8.self) else {
            throw AuditLogError(.malformedEntry, "\(self.context): \(field) is not valid UTF-8")
        }
        return value
    }
}

extension [UInt8] {
    mutating func appendInteger<T: FixedWidthInteger>(_ value: T) {
        var big = value.bigEndian
        Swift.withUnsafeBytes(of: &big) { self.append(contentsOf: $0) }
    }
}
