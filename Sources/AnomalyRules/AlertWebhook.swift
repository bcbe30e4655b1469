public import Foundation

#if canImport(FoundationNetworking)
internal import FoundationNetworking
#endif

/// How a webhook post ended.
public enum WebhookResult: Sendable, Hashable {
    /// The receiver answered 2xx, after `attempts` attempts.
    case delivered(attempts: Int, status: Int)
    /// No attempt was answered 2xx: the receiver refused the post (4xx other than 429), or the
    /// attempts ran out. `lastError` says why the last attempt failed (`HTTP 503`, a connection
    /// error).
    case failed(attempts: Int, lastError: String)
}

/// Posts alerts (JSON) to an operator's webhook, retrying on connection errors and on
/// 5xx/429 answers with exponential backoff (doubling from `initialBackoff`, capped at 10 s),
/// never retrying other 4xx answers: the receiver will not accept that post.
public struct AlertWebhook: Sendable {
    /// The longest wait between two attempts.
    public static let maximumBackoff: Duration = .seconds(10)

    public let url: URL
    /// The most attempts for one post (at least 1).
    public let attempts: Int
    /// The wait after the first failed attempt; it doubles after each further failure.
    public let initialBackoff: Duration
    /// How long one attempt may take.
    public let timeout: Duration
    private let sleep: @Sendable (Duration) async -> Void

    /// `sleep` waits between attempts; tests pass one that returns at once.
    public init(
        url: URL,
        attempts: Int = 5,
        initialBackoff: Duration = .milliseconds(200),
        timeout: Duration = .seconds(5),
        sleep: @escaping @Sendable (Duration) async -> Void = { try? await Task.sleep(for: $0) }
    ) {
        precondition(attempts >= 1, "a webhook needs at least 1 attempt, not \(attempts)")
        self.url = url
        self.attempts = attempts
        self.initialBackoff = initialBackoff
        self.timeout = timeout
        self.sleep = sleep
    }

    /// The outcome of one attempt.
    private enum Attempt {
        case delivered(status: Int)
        case retryable(String)
        case refused(String)
    }

    /// POSTs `json` as `application/json`, retrying as described on the type.
    public func post(_ json: Data) async -> WebhookResult {
        let seconds = Self.seconds(self.timeout)
        var request = URLRequest(url: self.url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: seconds)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = json
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = seconds
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }

        var backoff = self.initialBackoff
        var attempt = 0
        while true {
            attempt += 1
            let lastError: String
            switch await Self.attempt(request, session: session) {
            case .delivered(let status):
                return .delivered(attempts: attempt, status: status)
            case .refused(let error):
                return .failed(attempts: attempt, lastError: error)
            case .retryable(let error):
                lastError = error
            }
            guard attempt < self.attempts, !Task.isCancelled else {
                return .failed(attempts: attempt, lastError: lastError)
            }
            await self.sleep(backoff)
            backoff = min(backoff * 2, Self.maximumBackoff)
        }
    }

    private static func attempt(_ request: URLRequest, session: URLSession) async -> Attempt {
        let response: URLResponse
        do {
            (_, response) = try await session.data(for: request)
        } catch {
            return .retryable(Self.describe(error))
        }
        guard let http = response as? HTTPURLResponse else {
            return .refused("the answer from \(request.url?.absoluteString ?? "the webhook") is not HTTP")
        }
        switch http.statusCode {
        case 200...299: return .delivered(status: http.statusCode)
        case 429, 500...599: return .retryable("HTTP \(http.statusCode)")
        default: return .refused("HTTP \(http.statusCode)")
        }
    }

    private static func describe(_ error: any Error) -> String {
        guard let urlError = error as? URLError else { return String(describing: error) }
        switch urlError.code {
        case .cannotConnectToHost: return "cannot connect to the webhook (connection refused)"
        case .timedOut: return "the webhook did not answer in time"
        case .cannotFindHost: return "the webhook's host name does not resolve"
        case .networkConnectionLost: return "the connection to the webhook was lost"
        default: return "URL error \(urlError.code.rawValue): \(urlError.localizedDescription)"
        }
    }

    private static func seconds(_ duration: Duration) -> TimeInterval {
        let (seconds, attoseconds) = duration.components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
