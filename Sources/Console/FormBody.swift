import Foundation
import Hummingbird

/// An `application/x-www-form-urlencoded` body (the console's forms), the first value of each
/// name. Bounded: a form is a few fields.
enum FormBody {
    static let maximumBytes = 16 * 1024

    static func decode(_ request: inout Request) async throws -> [String: String] {
        let buffer = try await request.collectBody(upTo: maximumBytes)
        let type = request.headers[.contentType] ?? ""
        guard buffer.readableBytes > 0, type.hasPrefix("application/x-www-form-urlencoded") else { return [:] }
        return parse(String(decoding: buffer.readableBytesView, as: UTF8.self))
    }

    static func parse(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ part: Substring) -> String {
                part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            let name = decoded(parts[0])
            if fields[name] == nil { fields[name] = parts.count > 1 ? decoded(parts[1]) : "" }
        }
        return fields
    }
}
