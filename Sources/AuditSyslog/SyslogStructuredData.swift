/// One RFC 5424 SD-ELEMENT: `[ID name="value" ...]`.
///
/// - SD-ID and PARAM-NAME: 1...32 PRINTUSASCII except `=`, space, `]` and `"` (section 6.3.2,
///   6.3.3). Names here are constants of this module, so a bad one is a programming error.
/// - PARAM-VALUE: UTF-8 with `"`, `\` and `]` escaped by a backslash (section 6.3.3), cut at
///   ``maximumValueBytes`` on a character boundary so one message stays well under the 8 KiB
///   that RFC 5425 receivers should accept (4 KiB at the very worst: seven values, each doubled
///   by escaping).
public struct SyslogStructuredData: Sendable {
    public static let maximumNameLength = 32
    public static let maximumValueBytes = 256

    public let id: String
    public private(set) var parameters: [(name: String, value: String)] = []

    public init(id: String) {
        precondition(Self.isValidName(id), "SD-ID \(id) is not 1...32 PRINTUSASCII without = ] \" or space")
        self.id = id
    }

    public mutating func append(_ name: String, _ value: String) {
        precondition(Self.isValidName(name), "PARAM-NAME \(name) is not 1...32 PRINTUSASCII without = ] \" or space")
        self.parameters.append((name, value))
    }

    /// `[id name="value" ...]` in UTF-8.
    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = [UInt8(ascii: "[")] + Array(self.id.utf8)
        for (name, value) in self.parameters {
            bytes.append(UInt8(ascii: " "))
            bytes += Array(name.utf8)
            bytes += Array("=\"".utf8)
            bytes += Self.escaped(value)
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: "]"))
        return bytes
    }

    /// `value` cut to ``maximumValueBytes`` and escaped.
    public static func escaped(_ value: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var kept = 0
        for scalar in value.unicodeScalars {
            let utf8 = Array(String(scalar).utf8)
            kept += utf8.count
            if kept > Self.maximumValueBytes { break }
            if scalar == "\"" || scalar == "\\" || scalar == "]" { bytes.append(UInt8(ascii: "\\")) }
            bytes += utf8
        }
        return bytes
    }

    /// PRINTUSASCII: `%d33-126`.
    static func isPrintableASCII(_ byte: UInt8) -> Bool { byte >= 33 && byte <= 126 }

    /// An SD-NAME: 1...32 PRINTUSASCII except `=`, `]`, `"` (space is already outside PRINTUSASCII).
    public static func isValidName(_ name: String) -> Bool {
        (1...Self.maximumNameLength).contains(name.utf8.count)
            && name.utf8.allSatisfy { byte in
                Self.isPrintableASCII(byte) && byte != UInt8(ascii: "=") && byte != UInt8(ascii: "]")
                    && byte != UInt8(ascii: "\"")
            }
    }
}
