/// Octet-counting framing of syslog over a stream (RFC 6587 section 3.4.1, the only framing
/// RFC 5425 allows over TLS):
///
///     SYSLOG-FRAME = MSG-LEN SP SYSLOG-MSG
///     MSG-LEN      = NONZERO-DIGIT *DIGIT    ; octets of SYSLOG-MSG, in decimal
///
/// No trailer: a message may hold any byte, a line feed included, and still not split.
public enum SyslogFraming {
    /// A frame longer than this is refused by ``Decoder`` (8 KiB is what RFC 5425 receivers
    /// SHOULD accept; nothing this gateway formats comes close).
    public static let maximumMessageBytes = 64 * 1024
    /// Digits of the longest MSG-LEN a decoder reads before giving up on the frame.
    static let maximumLengthDigits = 6

    /// `LEN SP MSG`.
    public static func frame(_ message: [UInt8]) -> [UInt8] {
        Array("\(message.count) ".utf8) + message
    }

    /// Splits a byte stream back into messages: for tests and for a collector written in Swift.
    public struct Decoder: Sendable {
        private var buffer: [UInt8] = []

        public init() {}

        public mutating func append(_ bytes: some Sequence<UInt8>) { self.buffer += bytes }

        /// The next whole message, nil if more bytes are needed; throws on a malformed length.
        public mutating func next() throws(SyslogError) -> [UInt8]? {
            guard let space = self.buffer.prefix(SyslogFraming.maximumLengthDigits + 1).firstIndex(of: 0x20) else {
                if self.buffer.count > SyslogFraming.maximumLengthDigits {
                    throw SyslogError(.malformedFrame, "no MSG-LEN within \(SyslogFraming.maximumLengthDigits) digits")
                }
                return nil
            }
            let digits = self.buffer[..<space]
            guard let first = digits.first, first != UInt8(ascii: "0"),
                digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                let length = Int(String(decoding: digits, as: UTF8.self)),
                length <= SyslogFraming.maximumMessageBytes
            else {
                throw SyslogError(
                    .malformedFrame,
                    "MSG-LEN '\(String(decoding: digits, as: UTF8.self))' is not 1...\(SyslogFraming.maximumMessageBytes)"
                )
            }
            let end = space + 1 + length
            guard self.buffer.count >= end else { return nil }
            let message = Array(self.buffer[(space + 1)..<end])
            self.buffer.removeFirst(end)
            return message
        }
    }
}
