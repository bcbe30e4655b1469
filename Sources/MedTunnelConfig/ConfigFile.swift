import Configuration
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A JSON configuration file as read: its text (to find a key's line, which swift-configuration
/// does not report), its top-level keys, and swift-configuration's snapshot of its values.
struct ConfigFile {
    let path: String
    let text: String
    /// The top-level keys with the JSON type of each value, in no particular order.
    let keys: [String: String]
    let snapshot: JSONSnapshot

    /// Reads and parses `path`; every failure names the file and what to do.
    init(path: String) throws(ConfigProblems) {
        self.path = path
        let bytes = try Self.read(path)
        guard let text = String(bytes: bytes, encoding: .utf8) else {
            throw ConfigProblems("\(path): not UTF-8 text; the configuration file is JSON")
        }
        self.text = text
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes))
        } catch {
            throw ConfigProblems(
                "\(path)\(Self.place(of: error, in: bytes)): not valid JSON: \(Self.reason(error)); see docs/configuration.md"
            )
        }
        guard let dictionary = object as? [String: Any] else {
            throw ConfigProblems(
                "\(path): the file must hold one JSON object of settings ({\"state-dir\": \"/var/lib/medtunnel\", …})"
            )
        }
        self.keys = dictionary.mapValues(Self.typeName)
        do {
            self.snapshot = try JSONSnapshot(data: bytes.span.bytes, providerName: path, parsingOptions: .default)
        } catch {
            // A value swift-configuration does not take (null, a list of objects): the keys'
            // own checks name them first, so this is only reached for what they did not catch.
            throw ConfigProblems("\(path): \(error)")
        }
    }

    /// The 1-based line where `key` is written as an object key, if it can be found.
    func line(of key: String) -> Int? {
        // The key is JSON-escaped the way an operator would write it; a key spelled with escapes
        // is not found and reported without a line.
        let quoted = "\"\(key)\""
        for (index, line) in self.text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var rest = line[...]
            while let range = rest.range(of: quoted) {
                let after = rest[range.upperBound...].drop { $0 == " " || $0 == "\t" }
                if after.first == ":" { return index + 1 }
                rest = rest[range.upperBound...]
            }
        }
        return nil
    }

    /// `FILE line N` or `FILE` where the key's line is unknown.
    func place(of key: String) -> String {
        self.line(of: key).map { "\(self.path) line \($0)" } ?? self.path
    }

    /// The file's bytes through open(2), so that a missing or unreadable file is reported with the
    /// system's reason.
    private static func read(_ path: String) throws(ConfigProblems) -> [UInt8] {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw ConfigProblems("--config \(path): \(String(cString: strerror(errno))); give the path of a JSON file")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw ConfigProblems("--config \(path) is not a file; give the path of a JSON file")
        }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw ConfigProblems(
                "--config \(path) cannot be read: \(String(cString: strerror(errno))); "
                    + "check its permissions (the service's user must be able to read it)"
            )
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ConfigProblems("--config \(path) cannot be read: \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            bytes.append(contentsOf: buffer[0..<count])
            // A configuration file is a few kilobytes; refuse to buffer anything much larger.
            if bytes.count > 1 << 20 {
                throw ConfigProblems("--config \(path) is larger than 1 MiB; is it the configuration file?")
            }
        }
        return bytes
    }

    /// The parser's own account (its line and column), without Foundation's error domain.
    private static func reason(_ error: any Error) -> String {
        let error = error as NSError
        if let detail = error.userInfo["NSDebugDescription"] as? String { return detail }
        return error.localizedDescription
    }

    /// ` line L, column C` from Foundation's "around character N" (an offset in the bytes), or "".
    private static func place(of error: any Error, in bytes: [UInt8]) -> String {
        let reason = Self.reason(error)
        guard let range = reason.range(of: "character ") else { return "" }
        guard let offset = Int(reason[range.upperBound...].prefix { $0.isASCII && $0.isNumber }) else { return "" }
        let before = bytes.prefix(offset)
        let line = before.count { $0 == UInt8(ascii: "\n") } + 1
        let column = before.count - (before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0) + 1
        return " line \(line), column \(column)"
    }

    /// A parsed value as an error message shows it ("found …").
    static func typeName(_ value: Any) -> String {
        switch value {
        case is NSNull: "null"
        case is [Any]: "a list"
        case is [String: Any]: "an object"
        case let text as String: "the string \"\(text)\""
        default: "\(value)"
        }
    }
}
