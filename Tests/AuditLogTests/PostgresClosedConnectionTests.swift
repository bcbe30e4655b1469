import AuditLog
import Foundation
import Logging
import MedTunnelTestSupport
import Testing

@testable import AuditPostgres

/// PostgresNIO writes a statement to its channel without a write promise: on a connection the
/// server has already ended, the statement never reaches its handler and its future never
/// completes. A session must answer such a statement with an error, not wait for ever.
@Suite("PostgreSQL session: a statement on a connection the server ended")
struct PostgresClosedConnectionTests {
    @Test(
        "a transaction left idle past idle_in_transaction_session_timeout: the next statement fails database_unavailable at once"
    )
    func statementAfterServerEndedTheConnection() async throws {
        let url = try PostgresURL(try await PostgresTestServer.newDatabase())
        var session = try await PostgresSession.connect(url, logger: Logger(label: "test"))
        session.statementTimeout = .seconds(5)
        try await session.run("BEGIN", operation: "begin")
        // The server ends a session idle in a transaction after 2 s (set by `connect`), as it
        // does when this process is too busy to send the transaction's next statement.
        let deadline = ContinuousClock.now + .seconds(30)
        while !session.connection.isClosed && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        try #require(session.connection.isClosed, "the server did not end the idle transaction")
        // Let the channel finish closing (NIO removes its handlers a loop tick after the close).
        try await Task.sleep(for: .milliseconds(500))

        let next = session
        let error = await #expect(throws: AuditLogError.self) {
            // Bounded here so that a statement that never answers fails the test, not the run.
            try await PostgresDeadline.run(timeout: .seconds(20), failure: "the statement after the close") {
                try await next.run("SELECT 1", operation: "select after the close")
            }
        }
        #expect(error?.code == .databaseUnavailable)
        #expect(error?.reason.contains("no answer within") == false, "\(error?.reason ?? "")")
    }
}
