/// Base64url without padding (RFC 4648 §5), Foundation-free so the pump can write its pairing
/// code. The decoder is strict: only the URL alphabet, no padding, no whitespace, and the unused
/// low bits of the last character must be zero, so every byte string has exactly one text form
/// (a tampered character can never decode to the same bytes).
public enum Base64URL {
    private static let alphabet: [UInt8] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8
    )

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var index = 0
        while index + 3 <= bytes.count {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out += [sextet(n >> 18), sextet(n >> 12), sextet(n >> 6), sextet(n)]
            index += 3
        }
        switch bytes.count - index {
        case 1:
            let n = UInt32(bytes[index]) << 16
            out += [sextet(n >> 18), sextet(n >> 12)]
        case 2:
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out += [sextet(n >> 18), sextet(n >> 12), sextet(n >> 6)]
        default:
            break
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// nil for anything but canonical unpadded base64url.
    public static func decode(_ text: Substring) -> [UInt8]? {
        let characters = Array(text.utf8)
        guard characters.count % 4 != 1 else { return nil }
        var values: [UInt32] = []
        values.reserveCapacity(characters.count)
        for character in characters {
            guard let value = value(of: character) else { return nil }
            values.append(value)
        }
        var out: [UInt8] = []
        out.reserveCapacity(values.count * 3 / 4)
        var index = 0
        while index + 4 <= values.count {
            let n = values[index] << 18 | values[index + 1] << 12 | values[index + 2] << 6 | values[index + 3]
            out += [UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)]
            index += 4
        }
        switch values.count - index {
        case 2:
            guard values[index + 1] & 0x0F == 0 else { return nil }
            out.append(UInt8((values[index] << 2 | values[index + 1] >> 4) & 0xFF))
        case 3:
            guard values[index + 2] & 0x03 == 0 else { return nil }
            let n = values[index] << 18 | values[index + 1] << 12 | values[index + 2] << 6
            out += [UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF)]
        default:
            break
        }
        return out
    }

    private static func sextet(_ value: UInt32) -> UInt8 { alphabet[Int(value & 0x3F)] }

    private static func value(of character: UInt8) -> UInt32? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): UInt32(character - UInt8(ascii: "A"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): UInt32(character - UInt8(ascii: "a")) + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(character - UInt8(ascii: "0")) + 52
        case UInt8(ascii: "-"): 62
        case UInt8(ascii: "_"): 63
        default: nil
        }
    }
}
