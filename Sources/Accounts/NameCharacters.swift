/// The characters allowed in ids and attribute values: ASCII letters and digits plus a little
/// punctuation, so a value is safe in a token, an audit entry, a URL path and a table column.
enum NameCharacters {
    static func only(_ text: String, lettersDigitsAnd punctuation: String) -> Bool {
        text.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || punctuation.utf8.contains(byte)
        }
    }
}
