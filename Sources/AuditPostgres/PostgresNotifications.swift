import Foundation
public import Logging
import PostgresNIO

/// What other nodes notified on a channel (`LISTEN`; a store notifies inside its step's
/// transaction, so only once it commits): e.g. the pumps whose command queue changed. A lost
/// notification must be covered by a periodic sweep: PostgreSQL keeps none for a listener
/// that was not connected.
public enum PostgresNotifications {
    /// The payloads, as long as the connection behind it lives: the stream ends (or throws)
    /// when it is lost, and the caller listens again.
    public static func payloads(
        channel: String,
        url: String,
        logger: Logger
    ) async throws -> AsyncThrowingStream<String, any Error> {
        try await payloads(channel: channel, url: try PostgresURL(url), logger: logger)
    }

    /// `timeout`: how long connecting may take before it counts as the database unavailable.
    public static func payloads(
        channel: String,
        url parsed: PostgresURL,
        timeout: Duration = .seconds(5),
        applicationName: String = "medtunnel-listener",
        logger: Logger
    ) async throws -> AsyncThrowingStream<String, any Error> {
        let session = try await PostgresDeadline.run(
            timeout: timeout,
            failure: "\(parsed): listen on \(channel)",
            late: { await $0.close() }
        ) {
            try await PostgresSession.connect(
                parsed,
                logger: logger,
                applicationName: applicationName,
                connectTimeout: .seconds(2)
            )
        }
        let notifications: PostgresNotificationSequence
        do {
            // Bounded as the connect is: PostgresNIO writes the LISTEN to its channel without a
            // write promise, so on a connection closed meanwhile it would never answer (see
            // `PostgresSession.uncancellableRows`).
            let connection = session.connection
            notifications = try await PostgresDeadline.run(
                timeout: timeout,
                failure: "\(parsed): listen on \(channel)"
            ) { try await connection.listen(channel) }
        } catch {
            await session.close()
            throw PostgresSession.translate(error, url: parsed, operation: "listen on \(channel)")
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
