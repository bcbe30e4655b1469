import ArgumentParser

/// The gateway's duration options through the one parser (DurationText), each refusal naming the
/// flag, the value and the accepted forms.
extension GatewayCommand {
    struct Durations {
        var accessLog: Duration
        var checkpoint: Duration
        var idle: Duration
        /// nil: never closed.
        var uplinkIdle: Duration?
    }

    func durations() throws -> Durations {
        // A bare number stays seconds for --access-log-interval: tests and scripts pass one.
        let accessLog = try durationOption("--access-log-interval", self.accessLogInterval, bare: .seconds)
        guard accessLog >= .seconds(1) else {
            throw ValidationError("--access-log-interval '\(self.accessLogInterval)' must be at least 1s")
        }
        let uplinkIdle = try durationOption("--uplink-idle-timeout", self.uplinkIdleTimeout, allowsZero: true)
        return Durations(
            accessLog: accessLog,
            checkpoint: try durationOption("--checkpoint-interval", self.checkpointInterval),
            idle: try durationOption("--idle-timeout", self.idleTimeout),
            uplinkIdle: uplinkIdle == .zero ? nil : uplinkIdle
        )
    }
}
