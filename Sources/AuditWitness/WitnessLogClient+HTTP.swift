public import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The gateway's operator API as the witness reaches it:
///
/// | request | answer the witness expects |
/// |---|---|
/// | `GET /v1/audit/checkpoint` | 200, the latest signed checkpoint note as text (`text/plain`) |
/// | `GET /v1/audit/consistency?from=M&to=N` | 200 `{"from": M, "to": N, "proof": ["<hash>", ...]}`, hashes hex or base64 |
/// | `POST /v1/audit/cosignatures` | `{"checkpoint": body, "cosignature": line}` → 200/201; 4xx `{"error","reason","message"}` |
///
/// A bearer token, when given, goes on every request (the read routes need one).
extension WitnessLogClient {
    public static func http(base: URL, token: String?, timeoutSeconds: Double = 10) -> WitnessLogClient {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeoutSeconds
        let session = URLSession(configuration: configuration)
        @Sendable func send(_ method: String, _ path: String, body: Data? = nil) async throws -> Data {
            guard let url = URL(string: path, relativeTo: base) else {
                throw WitnessError(.logUnreachable, "cannot build a URL for \(path) on \(base)")
            }
            var request = URLRequest(url: url)
            request.httpMethod = method
            if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
            if let body {
                request.httpBody = body
                request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            }
            let data: Data
            let response: URLResponse
            do {
                (data, response) = try await session.data(for: request)
            } catch {
                throw WitnessError(.logUnreachable, "\(method) \(url.absoluteString): \(error.localizedDescription)")
            }
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            guard (200..<300).contains(status) else {
                let text = String(decoding: data.prefix(300), as: UTF8.self)
                throw WitnessError(
                    method == "POST" ? .submitFailed : .logUnreachable,
                    "\(method) \(url.absoluteString): HTTP \(status) \(text)"
                )
            }
            return data
        }
        return WitnessLogClient(
            latestCheckpoint: {
                String(decoding: try await send("GET", "/v1/audit/checkpoint"), as: UTF8.self)
            },
            consistencyProof: { from, to in
                let data = try await send("GET", "/v1/audit/consistency?from=\(from)&to=\(to)")
                let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
                let hashes = (object?["proof"] ?? object?["hashes"]) as? [String] ?? []
                let proof = hashes.compactMap(Self.hashBytes)
                guard object != nil, proof.count == hashes.count else {
                    throw WitnessError(
                        .logUnreachable,
                        "GET /v1/audit/consistency: expected {\"proof\": [hex or base64 hashes]}"
                    )
                }
                return proof
            },
            submit: { submission in
                let body = try JSONSerialization.data(
                    withJSONObject: ["checkpoint": submission.checkpoint, "cosignature": submission.line],
                    options: [.sortedKeys]
                )
                _ = try await send("POST", "/v1/audit/cosignatures", body: body)
            }
        )
    }

    /// A 32-byte hash written in hex (64 digits) or standard base64.
    static func hashBytes(_ text: String) -> [UInt8]? {
        if text.utf8.count == 64 {
            var bytes: [UInt8] = []
            var index = text.startIndex
            while index < text.endIndex {
                let next = text.index(index, offsetBy: 2)
                guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
                bytes.append(byte)
                index = next
            }
            return bytes
        }
        guard let data = Data(base64Encoded: text), data.count == 32 else { return nil }
        return Array(data)
    }
}
