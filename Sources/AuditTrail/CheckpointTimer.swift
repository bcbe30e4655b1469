public import AuditLog
public import Logging
public import ServiceLifecycle

/// Signs a checkpoint every `interval` when entries were appended since the last one, and once
/// more at graceful shutdown, so that a quiet log is covered by a signed checkpoint within one
/// interval instead of waiting for the log's every-1,024-entries checkpoint.
///
/// A failed signature is logged and retried at the next tick: the log itself refuses appends
/// after a storage failure, so the timer has nothing to add by stopping the gateway.
public struct CheckpointTimer<C: Clock>: Service where C.Duration == Duration {
    public static var defaultInterval: Duration { .seconds(10) }

    let log: AuditLog
    let interval: Duration
    let clock: C
    let logger: Logger
    /// With several gateway nodes on one log: whether this node holds the checkpoint role now.
    /// Only the holder signs, and it signs the store's tip (`AuditLog.checkpointAtTip`), which
    /// covers every node's appends. nil: one gateway, its own log.
    public var signsForCluster: (@Sendable () async -> Bool)?

    public init(log: AuditLog, interval: Duration, clock: C, logger: Logger) {
        self.log = log
        self.interval = interval
        self.clock = clock
        self.logger = logger
    }

    /// Signs a checkpoint if the log grew since the last; returns it (nil: nothing to sign).
    @discardableResult
    public func tick() async -> SignedCheckpoint? {
        do {
            let checkpoint: SignedCheckpoint?
            if let signsForCluster {
                guard await signsForCluster() else { return nil }
                checkpoint = try await self.log.checkpointAtTip()
            } else {
                checkpoint = try await self.log.checkpointIfBehind()
            }
            guard let signed = checkpoint else { return nil }
            self.logger.debug("checkpoint signed", metadata: ["size": "\(signed.checkpoint.size)"])
            return signed
        } catch {
            self.logger.error("checkpoint not signed", metadata: ["error": "\(error)"])
            return nil
        }
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await self.clock.sleep(for: self.interval)
                } catch {
                    break
                }
                await self.tick()
            }
        }
        // Graceful shutdown: cover what was appended since the last tick.
        await self.tick()
    }
}

extension CheckpointTimer where C == ContinuousClock {
    public init(log: AuditLog, interval: Duration = Self.defaultInterval, logger: Logger) {
        self.init(log: log, interval: interval, clock: ContinuousClock(), logger: logger)
    }
}
