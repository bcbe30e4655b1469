/// The CBOR (RFC 8949) that WebAuthn sends: an attestationObject and COSE keys, nothing more.
///
///     initial byte = major type (3 bits) | additional info (5 bits)
///     | major | meaning         | accepted here                                  |
///     |-------|-----------------|------------------------------------------------|
///     | 0     | unsigned int    | yes                                            |
///     | 1     | negative int    | yes (-1 - n, n < 2^63)                         |
///     | 2     | byte string     | definite length only                           |
///     | 3     | text string     | definite length only, valid UTF-8              |
///     | 4     | array           | definite length only                           |
///     | 5     | map             | definite length only, no duplicate keys        |
///     | 6     | tag             | refused (WebAuthn's structures have none)      |
///     | 7     | simple / float  | false (20), true (21), null (22); floats refused |
///     additional info: 0-23 the value itself; 24/25/26/27 a 1/2/4/8-byte big-endian value
///     follows; 28-30 reserved (refused); 31 indefinite length (refused).
///
/// Limits keep a hostile client from making the gateway allocate or recurse: at most
/// ``maximumBytes`` of input, ``maximumDepth`` levels of nesting, ``maximumItems`` items in all.
public indirect enum CBORValue: Sendable, Hashable {
    case unsigned(UInt64)
    /// The value is `-1 - n`.
    case negative(UInt64)
    case bytes([UInt8])
    case text(String)
    case array([CBORValue])
    /// In the order sent; keys are unique.
    case map([CBORPair])
    case bool(Bool)
    case null

    /// The value of an integer key or field (`.unsigned` or `.negative`), if it fits `Int64`.
    public var integer: Int64? {
        switch self {
        case .unsigned(let n): n <= UInt64(Int64.max) ? Int64(n) : nil
        case .negative(let n): n <= UInt64(Int64.max) ? -1 - Int64(n) : nil
        default: nil
        }
    }

    /// The value under `key` when this is a map.
    public subscript(key: CBORValue) -> CBORValue? {
        guard case .map(let pairs) = self else { return nil }
        return pairs.first { $0.key == key }?.value
    }
}

public struct CBORPair: Sendable, Hashable {
    public let key: CBORValue
    public let value: CBORValue
}

public enum CBOR {
    /// An attestationObject is a few hundred bytes; a COSE key about 77.
    public static let maximumBytes = 64 * 1024
    public static let maximumDepth = 8
    public static let maximumItems = 1024

    /// Decodes exactly one item that spans all of `bytes`; trailing bytes are refused.
    public static func decode(_ bytes: [UInt8]) throws(PasskeyError) -> CBORValue {
        let (value, used) = try decodePrefix(bytes[...])
        guard used == bytes.count else {
            throw PasskeyError(.cborMalformed, "CBOR: \(bytes.count - used) bytes after the item")
        }
        return value
    }

    /// Decodes one item at the start of `bytes`, returning it and how many bytes it took (the
    /// COSE key inside authenticator data is followed by the extensions, if any).
    public static func decodePrefix(_ bytes: ArraySlice<UInt8>) throws(PasskeyError) -> (CBORValue, Int) {
        guard bytes.count <= maximumBytes else {
            throw PasskeyError(.cborMalformed, "CBOR: \(bytes.count) bytes, at most \(maximumBytes)")
        }
        var reader = Reader(bytes: bytes)
        let value = try reader.item(depth: 0)
        return (value, reader.offset - bytes.startIndex)
    }

    private struct Reader {
        let bytes: ArraySlice<UInt8>
        var offset: Int
        var items = 0

        init(bytes: ArraySlice<UInt8>) {
            self.bytes = bytes
            self.offset = bytes.startIndex
        }

        mutating func byte() throws(PasskeyError) -> UInt8 {
            guard offset < bytes.endIndex else { throw PasskeyError(.cborMalformed, "CBOR: ends inside an item") }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func take(_ count: UInt64) throws(PasskeyError) -> [UInt8] {
            // Checked against what is left before anything is allocated.
            guard count <= UInt64(bytes.endIndex - offset) else {
                throw PasskeyError(.cborMalformed, "CBOR: a string of \(count) bytes runs past the end")
            }
            let end = offset + Int(count)
            defer { offset = end }
            return Array(bytes[offset..<end])
        }

        /// The argument of the head: the additional info itself or the 1/2/4/8 bytes after it.
        mutating func argument(_ info: UInt8) throws(PasskeyError) -> UInt64 {
            switch info {
            case 0...23: return UInt64(info)
            case 24, 25, 26, 27:
                let width = 1 << Int(info - 24)
                var value: UInt64 = 0
                for _ in 0..<width { value = value << 8 | UInt64(try byte()) }
                return value
            case 31: throw PasskeyError(.cborMalformed, "CBOR: indefinite lengths are not accepted")
            default: throw PasskeyError(.cborMalformed, "CBOR: reserved additional information \(info)")
            }
        }

        mutating func item(depth: Int) throws(PasskeyError) -> CBORValue {
            guard depth <= CBOR.maximumDepth else {
                throw PasskeyError(.cborMalformed, "CBOR: nested deeper than \(CBOR.maximumDepth) levels")
            }
            items += 1
            guard items <= CBOR.maximumItems else {
                throw PasskeyError(.cborMalformed, "CBOR: more than \(CBOR.maximumItems) items")
            }
            let head = try byte()
            let major = head >> 5
            let info = head & 0x1f
            switch major {
            case 0: return .unsigned(try argument(info))
            case 1:
                let n = try argument(info)
                guard n <= UInt64(Int64.max) else {
                    throw PasskeyError(.cborMalformed, "CBOR: negative integer too large")
                }
                return .negative(n)
            case 2: return .bytes(try take(try argument(info)))
            case 3:
                let raw = try take(try argument(info))
                guard let text = String(validating: raw, as: UTF8.self) else {
                    throw PasskeyError(.cborMalformed, "CBOR: a text string is not valid UTF-8")
                }
                return .text(text)
            case 4:
                let count = try argument(info)
                // Each item takes at least one byte: a count beyond what is left is a lie.
                guard count <= UInt64(bytes.endIndex - offset) else {
                    throw PasskeyError(.cborMalformed, "CBOR: an array of \(count) items runs past the end")
                }
                var values: [CBORValue] = []
                for _ in 0..<count { values.append(try item(depth: depth + 1)) }
                return .array(values)
            case 5:
                let count = try argument(info)
                guard count <= UInt64(bytes.endIndex - offset) / 2 else {
                    throw PasskeyError(.cborMalformed, "CBOR: a map of \(count) pairs runs past the end")
                }
                var pairs: [CBORPair] = []
                for _ in 0..<count {
                    let key = try item(depth: depth + 1)
                    let value = try item(depth: depth + 1)
                    // Two values for one key would let two readers see different structures.
                    guard !pairs.contains(where: { $0.key == key }) else {
                        throw PasskeyError(.cborMalformed, "CBOR: a map repeats a key")
                    }
                    pairs.append(CBORPair(key: key, value: value))
                }
                return .map(pairs)
            case 6: throw PasskeyError(.cborMalformed, "CBOR: tags are not accepted")
            default:
                switch info {
                case 20: return .bool(false)
                case 21: return .bool(true)
                case 22: return .null
                default: throw PasskeyError(.cborMalformed, "CBOR: simple value or float \(info) is not accepted")
                }
            }
        }
    }
}
