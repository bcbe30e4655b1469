public import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How the long-running commands (`gateway`, `relay`, `witness`) write their logs
/// (`--log-format`): swift-log's text lines, or one JSON object per line (``JSONLogHandler``).
///
/// In JSON mode every line the process writes is JSON, its own announcements too (the
/// `gateway: listening …` lines that scripts wait for become records whose `message` is the same
/// text, see ``announce(_:label:level:stream:)``), so a collector can parse stdout and stderr line
/// by line.
public enum LogFormat: String, CaseIterable, Sendable {
    case text
    case json

    /// The format the process chose at startup (``bootstrap(label:level:)``); text until then.
    public static var current: LogFormat { self.chosen.withLock { $0 } }

    private static let chosen = Mutex(LogFormat.text)

    /// Sets up swift-log for the whole process in this format (call once, before logging) and
    /// returns the command's logger.
    /// `metadata` is on every record of every logger made after this (the gateway's node id).
    public func bootstrap(label: String, level: Logger.Level, metadata: Logger.Metadata = [:]) -> Logger {
        Self.chosen.withLock { $0 = self }
        switch self {
        case .text:
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.metadata = metadata
                return handler
            }
        case .json:
            LoggingSystem.bootstrap { label in
                var handler = JSONLogHandler(label: label)
                handler.metadata = metadata
                return handler
            }
        }
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }

    /// A line for people and scripts (`gateway: listening for pumps on 127.0.0.1:7443`): printed
    /// as it is in text mode; in JSON mode a record with the same text as its `message`, so every
    /// line stays JSON and a script can still find it by its text.
    public static func announce(
        _ text: String,
        label: String,
        level: Logger.Level = .notice,
        stream: JSONLogHandler.Stream = .standardOutput
    ) {
        switch self.current {
        case .text where stream == .standardOutput:
            // Through stdio, in order with the process's other `print`s.
            print(text)
            fflush(nil)
        case .text:
            JSONLine.write(text + "\n", to: STDERR_FILENO)
        case .json:
            JSONLine.write(
                JSONLogHandler.line(time: JSONLine.now(), level: level, label: label, message: text, metadata: [:]),
                to: stream == .standardOutput ? STDOUT_FILENO : STDERR_FILENO
            )
        }
    }
}
