import AnomalyRules
import Foundation
import Synchronization
import Testing

@Suite("Alert webhook")
struct AlertWebhookTests {
    /// Records the waits between attempts instead of waiting.
    final class Sleeps: Sendable {
        private let recorded = Mutex<[Duration]>([])
        var all: [Duration] { self.recorded.withLock { $0 } }
        var sleep: @Sendable (Duration) async -> Void { { duration in self.recorded.withLock { $0.append(duration) } } }
    }

    private let alert = Data(#"{"rule":"phone_tampering","phone":"PHONE-2","action":"lockout"}"#.utf8)

    @Test func deliveredTheFirstTime() async throws {
        let receiver = try HTTPTestReceiver(statuses: [200])
        defer { receiver.stop() }
        let sleeps = Sleeps()
        let result = await AlertWebhook(url: receiver.url, sleep: sleeps.sleep).post(self.alert)
        #expect(result == .delivered(attempts: 1, status: 200))
        let request = try #require(receiver.requests.first)
        #expect(receiver.requests.count == 1)
        #expect(request.method == "POST")
        #expect(request.path == "/alerts")
        #expect(request.headers["content-type"] == "application/json")
        #expect(request.body == self.alert)
        #expect(sleeps.all.isEmpty)
    }

    @Test func retriesAfterAServerError() async throws {
        let receiver = try HTTPTestReceiver(statuses: [503, 200])
        defer { receiver.stop() }
        let sleeps = Sleeps()
        let result = await AlertWebhook(url: receiver.url, sleep: sleeps.sleep).post(self.alert)
        #expect(result == .delivered(attempts: 2, status: 200))
        #expect(receiver.requests.map(\.body) == [self.alert, self.alert])
        #expect(sleeps.all == [.milliseconds(200)])
    }

    @Test func retriesWhenThrottled() async throws {
        let receiver = try HTTPTestReceiver(statuses: [429, 500, 204])
        defer { receiver.stop() }
        let sleeps = Sleeps()
        let result = await AlertWebhook(url: receiver.url, sleep: sleeps.sleep).post(self.alert)
        #expect(result == .delivered(attempts: 3, status: 204))
        #expect(sleeps.all == [.milliseconds(200), .milliseconds(400)])
    }

    @Test func aClientErrorIsNotRetried() async throws {
        let receiver = try HTTPTestReceiver(statuses: [400, 200])
        defer { receiver.stop() }
        let sleeps = Sleeps()
        let result = await AlertWebhook(url: receiver.url, sleep: sleeps.sleep).post(self.alert)
        #expect(result == .failed(attempts: 1, lastError: "HTTP 400"))
        #expect(receiver.requests.count == 1)
        #expect(sleeps.all.isEmpty)
    }

    @Test func serverErrorsUntilTheAttemptsRunOut() async throws {
        let receiver = try HTTPTestReceiver(statuses: [500, 502, 503])
        defer { receiver.stop() }
        let result = await AlertWebhook(url: receiver.url, attempts: 3, sleep: Sleeps().sleep).post(self.alert)
        #expect(result == .failed(attempts: 3, lastError: "HTTP 503"))
    }

    @Test func nothingListeningFailsAfterEveryAttemptWithCappedBackoff() async throws {
        // A port that was bound and closed: nothing listens there.
        let socket = try HTTPTestReceiver.boundSocket()
        let port = try HTTPTestReceiver.port(of: socket)
        close(socket)
        let sleeps = Sleeps()
        let webhook = AlertWebhook(
            url: URL(string: "http://127.0.0.1:\(port)/alerts")!,
            attempts: 5,
            initialBackoff: .seconds(3),
            sleep: sleeps.sleep
        )
        let result = await webhook.post(self.alert)
        guard case .failed(let attempts, let lastError) = result else {
            Issue.record("expected a failure, got \(result)")
            return
        }
        #expect(attempts == 5)
        #expect(lastError.contains("cannot connect"), "\(lastError)")
        // Doubling from 3 s, capped at 10 s.
        #expect(sleeps.all == [.seconds(3), .seconds(6), .seconds(10), .seconds(10)])
    }
}
