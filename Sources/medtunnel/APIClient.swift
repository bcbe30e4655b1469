import ArgumentParser
import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Where a command reaches a running gateway's operator API, and with which token.
struct APIOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The gateway's operator API (as printed at its start), e.g. http://127.0.0.1:8080; or MEDTUNNEL_API.",
            valueName: "url"
        )
    )
    var api: String?

    @Option(
        help: ArgumentHelp(
            "A bearer token (`medtunnel token issue`); or MEDTUNNEL_TOKEN. It is never printed.",
            valueName: "token"
        )
    )
    var token: String?

    @Flag(help: "Print the gateway's JSON answer instead of a summary.") var json = false

    func client() throws -> APIClient {
        let environment = ProcessInfo.processInfo.environment
        guard let text = self.api ?? environment["MEDTUNNEL_API"] else {
            throw ValidationError("give --api URL (the operator API address the gateway printed) or set MEDTUNNEL_API")
        }
        guard let base = URL(string: text), base.scheme == "http" || base.scheme == "https", base.host != nil else {
            throw ValidationError("--api '\(text)' is not an http:// or https:// URL")
        }
        guard let token = self.token ?? environment["MEDTUNNEL_TOKEN"], !token.isEmpty else {
            throw ValidationError("give --token TOKEN (from `medtunnel token issue`) or set MEDTUNNEL_TOKEN")
        }
        return APIClient(base: base, token: token)
    }
}

/// A small client of the operator API for the CLI: one request, the status and the JSON body.
struct APIClient: Sendable {
    let base: URL
    let token: String

    struct Answer {
        let status: Int
        let body: Data

        var object: [String: Any] { (try? JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:] }
        var ok: Bool { (200..<300).contains(status) }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    func send(_ method: String, _ path: String, json body: [String: Any]? = nil) async throws -> Answer {
        guard let url = URL(string: path, relativeTo: base) else {
            throw ValidationError("cannot build a URL for \(path) on \(base)")
        }
        var request = URLRequest(url: url, timeoutInterval: 30)
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        }
        let (data, response): (Data, URLResponse)
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw CLIFailure("cannot reach the operator API at \(base.absoluteString): \(error.localizedDescription)")
        }
        return Answer(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
    }

    /// Ends the command when the answer is an error: the gateway's reason and message, exit 1.
    static func check(_ answer: Answer, _ what: String) throws {
        guard !answer.ok else { return }
        let object = answer.object
        let reason = object["reason"] as? String ?? "http_\(answer.status)"
        let message = object["message"] as? String ?? answer.text
        Console.err("\(what): \(answer.status) \(reason): \(message)")
        throw ExitCode(answer.status == 401 || answer.status == 403 ? 4 : 1)
    }
}

/// A failure the CLI reports as one line (exit 1).
struct CLIFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
