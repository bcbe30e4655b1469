/// A change request's id: `chg_` and 22 base64url characters (128 random bits), safe in a URL
/// path and unguessable, so knowing one request's id tells nothing about another's.
public struct ChangeRequestID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: String

    /// Accepts only the shape `random()` produces.
    public init?(_ rawValue: String) {
        let body = rawValue.utf8.dropFirst(Self.prefix.utf8.count)
        guard rawValue.hasPrefix(Self.prefix), body.count == 22, body.allSatisfy({ Self.alphabet.utf8.contains($0) })
        else {
            return nil
        }
        self.rawValue = rawValue
    }

    private init(unchecked: String) {
        self.rawValue = unchecked
    }

    /// A fresh id from the system's cryptographic random source.
    public static func random() -> ChangeRequestID {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array(Self.alphabet)
        // 22 characters of 6 bits: 132 bits, of which 128 are used (the last character carries 2).
        var characters: [Character] = []
        for index in 0..<22 {
            let limit = index == 21 ? 4 : 64
            characters.append(alphabet[Int(generator.next(upperBound: UInt8(limit)))])
        }
        return ChangeRequestID(unchecked: prefix + String(characters))
    }

    static let prefix = "chg_"
    static let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

    public var description: String { rawValue }

    public static func < (lhs: ChangeRequestID, rhs: ChangeRequestID) -> Bool { lhs.rawValue < rhs.rawValue }

}
