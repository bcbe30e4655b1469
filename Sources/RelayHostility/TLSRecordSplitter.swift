public import NIOCore

/// Cuts one direction of a pump link into TLS records, which travel with their 5-byte header
/// in clear (RFC 5246 §6.2.1), so a relay can see where records begin without decrypting:
///
/// ```
///  0        1        2        3        4        5
/// +--------+--------+--------+--------+--------+------------------+
/// |  type  | version (major, minor)   | length (u16, big-endian) | fragment (length bytes)
/// +--------+--------+--------+--------+--------+------------------+
/// ```
/// A header with a type outside 20…23, a major version other than 3 or a length above
/// ``maximumFragmentLength`` means the bytes are not TLS records: from there on the splitter
/// hands bytes on as they come (`contentType` nil). It holds at most one incomplete record.
public struct TLSRecordSplitter: Sendable {
    public static let headerLength = 5
    /// 2^14 plus the most a TLS 1.2 cipher may add (RFC 5246 §6.2.3).
    public static let maximumFragmentLength = 16_384 + 2_048
    public static let applicationData: UInt8 = 23

    public struct Record: Sendable {
        /// The record, header included.
        public var bytes: ByteBuffer
        /// Its content type; nil for bytes that are not a TLS record.
        public var contentType: UInt8?
    }

    private var pending: ByteBuffer?
    private(set) var opaque = false

    public init() {}

    /// Bytes held back, waiting for the rest of their record.
    public var heldBytes: Int { self.pending?.readableBytes ?? 0 }

    /// Takes the next bytes of the direction; returns every record they complete.
    public mutating func append(_ buffer: ByteBuffer) -> [Record] {
        if self.opaque { return buffer.readableBytes > 0 ? [Record(bytes: buffer, contentType: nil)] : [] }
        var input: ByteBuffer
        if var pending = self.pending {
            var buffer = buffer
            pending.writeBuffer(&buffer)
            input = pending
        } else {
            input = buffer
        }
        self.pending = nil
        var records: [Record] = []
        while input.readableBytes >= Self.headerLength {
            let start = input.readerIndex
            let type = input.getInteger(at: start, as: UInt8.self)!
            let major = input.getInteger(at: start + 1, as: UInt8.self)!
            let length = Int(input.getInteger(at: start + 3, as: UInt16.self)!)
            guard (20...23).contains(type), major == 3, length <= Self.maximumFragmentLength else {
                self.opaque = true
                records.append(Record(bytes: input, contentType: nil))
                return records
            }
            guard input.readableBytes >= Self.headerLength + length else { break }
            records.append(Record(bytes: input.readSlice(length: Self.headerLength + length)!, contentType: type))
        }
        if input.readableBytes > 0 { self.pending = input }
        return records
    }

    /// Whatever is held (an incomplete record), handing it out.
    public mutating func takeHeld() -> ByteBuffer? {
        defer { self.pending = nil }
        return self.pending
    }
}
