package import AuditPostgres
import Foundation
public import Logging
import PostgresNIO

/// The pumps whose command queue changed on any node, as PostgreSQL tells them (`LISTEN` on
/// `medtunnel_queue`, notified inside each step's transaction, so only once it commits).
/// A lost notification is covered by the pipeline's periodic sweep of its connected pumps.
public enum PostgresQueueNotifications {
    static let channel = "medtunnel_queue"

    /// The serials, as long as the connection behind it lives: the stream ends (or throws)
    /// when it is lost, and the caller listens again.
    public static func serials(
        url: String,
        logger: Logger
    ) async throws -> AsyncThrowingStream<String, any Error> {
        let parsed = try PostgresURL(url)
        let session = try await PostgresDeadline.run(
            timeout: .seconds(5),
            failure: "\(parsed): listen for queue changes",
            late: { await $0.close() }
        ) {
            try await PostgresSession.connect(
                parsed,
                logger: logger,
                applicationName: "medtunnel-queue-listener",
                connectTimeout: .seconds(2)
            )
        }
        let notifications: PostgresNotificationSequence
        do {
            notifications = try await session.connection.listen(Self.channel)
        } catch {
            await session.close()
            throw PostgresSession.translate(error, url: parsed, operation: "listen for queue changes")
        }
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await notification in notifications {
                        continuation.yield(notification.payload)
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
                await session.close()
            }
            continuation.onTermination = { _ in
                task.cancel()
                Task { await session.close() }
            }
        }
    }
}
