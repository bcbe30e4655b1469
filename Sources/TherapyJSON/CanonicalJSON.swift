import Foundation

/// A JSON value built for encoding: integers only (no doses as floating point), so the encoded
/// text of a value is always the same.
enum CanonicalJSON: Encodable {
    case int(Int64)
    case string(String)
    case array([CanonicalJSON])
    case object([String: CanonicalJSON])

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .int(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let values): try container.encode(values)
        case .object(let members): try container.encode(members)
        }
    }

    /// Compact, keys sorted, slashes unescaped: one value, one byte string.
    var data: Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Integers, strings, arrays and string-keyed objects always encode.
        return (try? encoder.encode(self)) ?? Data()
    }

}
