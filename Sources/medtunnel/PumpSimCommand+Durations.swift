import ArgumentParser

/// pump-sim's duration options through the one parser (DurationText). Bare numbers keep the
/// units they had before (milliseconds for --interval and --response-timeout, seconds for
/// --progress): tests and tools/bench pass them.
extension PumpSimCommand {
    struct Durations {
        var interval: Duration?
        var responseTimeout: Duration
        /// nil: no progress lines.
        var progress: Duration?
    }

    func durations() throws -> Durations {
        let progress = try durationOption("--progress", self.progress, bare: .seconds, allowsZero: true)
        return Durations(
            interval: try self.interval.map {
                try durationOption("--interval", $0, bare: .milliseconds, allowsZero: true)
            },
            responseTimeout: try durationOption("--response-timeout", self.responseTimeout, bare: .milliseconds),
            progress: progress == .zero ? nil : progress
        )
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000 + duration.components.attoseconds / 1_000_000_000_000_000
    }
}
