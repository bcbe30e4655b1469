import Foundation
import Logging
import NIOCore
public import ServiceLifecycle

extension GatewayServer: Service {
    /// Serves (the listeners are bound beforehand) until graceful shutdown is triggered, e.g.
    /// by SIGTERM through a `ServiceGroup`, then shuts down cleanly: see ``shutdown()``.
    /// The command pipeline's workers run until the sessions are closed.
    public func run() async throws {
        // The recorder outlives the sessions: what they reported while closing is still written.
        let events = self.events
        async let recorder: Void = events?.run() ?? ()
        await withDiscardingTaskGroup { group in
            if let commands = self.commands {
                group.addTask { await commands.run() }
            }
            group.addTask { await self.watchRevocations() }
            try? await gracefulShutdown()
            await self.shutdown()
            group.cancelAll()
        }
        events?.finish()
        await recorder
    }

    /// Stops accepting, closes every pump session (close_notify inside its tunnel) and then
    /// every phone uplink (close_notify on the outer TLS), waits for them at most
    /// `shutdownTimeout`, and closes the telemetry store once its last commit is durable.
    public func shutdown() async {
        let listeners = self.takeListeners()
        for listener in listeners { try? await listener.close() }
        let sessions = self.registry.closeAllSessions()
        for _ in 0..<sessions { self.registry.metrics.sessionClosed(reason: "shutdown") }
        let sessionsClosed = await self.waitUntil { self.registry.liveSessionCount == 0 }
        let uplinks = self.phones.closeAllUplinks()
        for _ in 0..<uplinks { self.registry.metrics.uplinkClosed(reason: "shutdown") }
        let uplinksClosed = await self.waitUntil { self.phones.openUplinkCount == 0 }
        // Closing blocks until the writer's last commit is durable: off the cooperative pool.
        let store = self.store
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                store.close()
                continuation.resume()
            }
        }
        let statistics = store.statistics
        self.logger.info(
            "gateway stopped",
            metadata: [
                "sessions_closed": "\(sessions)", "uplinks_closed": "\(uplinks)",
                "all_closed": "\(sessionsClosed && uplinksClosed)",
                "telemetry_stored": "\(statistics.telemetryInserted)", "commits": "\(statistics.commits)",
            ]
        )
    }

    /// Polls `condition` until it holds or `shutdownTimeout` passes; returns whether it held.
    /// Waits on an event loop's timer, so it also waits when the task is cancelled.
    private func waitUntil(_ condition: @Sendable () -> Bool) async -> Bool {
        let deadline = NIODeadline.now() + self.configuration.shutdownTimeout
        let eventLoop = self.group.next()
        while !condition() {
            guard NIODeadline.now() < deadline else { return false }
            try? await eventLoop.scheduleTask(in: .milliseconds(10)) {}.futureResult.get()
        }
        return true
    }
}
