/// Big-endian writer.
struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func append(_ value: UInt8) { self.bytes.append(value) }
    mutating func append(_ value: UInt16) { self.appendBigEndian(UInt64(value), width: 2) }
    mutating func append(_ value: UInt32) { self.appendBigEndian(UInt64(value), width: 4) }
    mutating func append(_ value: UInt64) { self.appendBigEndian(value, width: 8) }
    mutating func append(_ value: Int64) { self.appendBigEndian(UInt64(bitPattern: value), width: 8) }
    mutating func append(bytes: [UInt8]) { self.bytes += bytes }
    mutating func append(bytes: ArraySlice<UInt8>) { self.bytes += bytes }
    private mutating func appendBigEndian(_ value: UInt64, width: Int) {
        for shift in stride(from: (width - 1) * 8, through: 0, by: -8) {
            self.bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }
}

/// Big-endian reader. The plain reads assume the length was checked beforehand (a short
/// read is a programming error caught by the length table); variable parts are guarded
/// with ``need(_:_:)`` first, which throws `badLength` instead.
struct ByteReader {
    private let bytes: ArraySlice<UInt8>
    private(set) var index: Int
    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.index = bytes.startIndex
    }
    var remaining: Int { self.bytes.endIndex - self.index }
    /// Bytes read so far, from the start of the slice.
    var consumed: ArraySlice<UInt8> { self.bytes[self.bytes.startIndex..<self.index] }

    /// Throws `badLength` unless `count` more bytes are there.
    func need(_ count: Int, _ what: StaticString) throws(TunnelProtocolError) {
        guard count <= self.remaining else {
            throw TunnelProtocolError(.badLength, "\(what) needs \(count) bytes but \(self.remaining) remain")
        }
    }

    mutating func readUInt8() -> UInt8 { UInt8(self.readBigEndian(width: 1)) }
    mutating func readUInt16() -> UInt16 { UInt16(self.readBigEndian(width: 2)) }
    mutating func readUInt32() -> UInt32 { UInt32(self.readBigEndian(width: 4)) }
    mutating func readUInt64() -> UInt64 { self.readBigEndian(width: 8) }
    mutating func readInt64() -> Int64 { Int64(bitPattern: self.readBigEndian(width: 8)) }
    mutating func readBytes(_ count: Int) -> [UInt8] { Array(self.readSlice(count)) }
    mutating func readSlice(_ count: Int) -> ArraySlice<UInt8> {
        precondition(count <= self.remaining, "read past a checked body: \(count) > \(self.remaining)")
        defer { self.index += count }
        return self.bytes[self.index..<(self.index + count)]
    }
    private mutating func readBigEndian(width: Int) -> UInt64 {
        precondition(width <= self.remaining, "read past a checked body: \(width) > \(self.remaining)")
        var value: UInt64 = 0
        for _ in 0..<width {
            value = value << 8 | UInt64(self.bytes[self.index])
            self.index += 1
        }
        return value
    }
}
