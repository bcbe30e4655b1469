public import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A swift-log handler that writes each record as one JSON object on one line (JSON lines), for
/// journald, Loki or any collector that reads structured logs:
///
///     {"time":"2026-12-05T10:00:00.123Z","level":"info","label":"medtunnel.gateway","message":"…","device":"PUMP-0001"}
///
/// `time` is RFC 3339 in UTC with milliseconds; `level`, `label` and `message` follow, then the
/// metadata flattened as keys (the handler's, the metadata provider's, then the call's, the
/// later winning, as swift-log's `StreamLogHandler` merges them). A metadata key that would
/// replace one of the four fixed keys is written as `metadata.<key>` instead. Every control
/// character is escaped, so a record is never more than one line whatever its message holds.
public struct JSONLogHandler: LogHandler {
    /// Where lines go: standard error (as swift-log's text handler writes) or standard output.
    public enum Stream: Sendable {
        case standardError
        case standardOutput

        var descriptor: Int32 {
            switch self {
            case .standardError: STDERR_FILENO
            case .standardOutput: STDOUT_FILENO
            }
        }
    }

    static let fixedKeys: Set<String> = ["time", "level", "label", "message"]

    public let label: String
    public let stream: Stream
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    public init(
        label: String,
        stream: Stream = .standardError,
        metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider
    ) {
        self.label = label
        self.stream = stream
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = self.metadata
        if let provided = self.metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit = event.metadata { merged.merge(explicit) { $1 } }
        if let error = event.error, merged["error"] == nil { merged["error"] = "\(error)" }
        let line = Self.line(
            time: JSONLine.now(),
            level: event.level,
            label: self.label,
            message: event.message.description,
            metadata: merged
        )
        JSONLine.write(line, to: self.stream.descriptor)
    }

    /// One record as a line (with its newline). Metadata keys are sorted so lines are stable.
    static func line(
        time: String,
        level: Logger.Level,
        label: String,
        message: String,
        metadata: Logger.Metadata
    ) -> String {
        var out = "{\"time\":\"\(time)\",\"level\":\"\(level.rawValue)\",\"label\":"
        JSONLine.appendString(label, to: &out)
        out += ",\"message\":"
        JSONLine.appendString(message, to: &out)
        for key in metadata.keys.sorted() {
            out += ","
            JSONLine.appendString(Self.fixedKeys.contains(key) ? "metadata." + key : key, to: &out)
            out += ":"
            Self.append(metadata[key]!, to: &out)
        }
        out += "}\n"
        return out
    }

    static func append(_ value: Logger.Metadata.Value, to out: inout String) {
        switch value {
        case .string(let text):
            JSONLine.appendString(text, to: &out)
        case .stringConvertible(let convertible):
            JSONLine.appendString(convertible.description, to: &out)
        case .array(let values):
            out += "["
            for (index, element) in values.enumerated() {
                if index > 0 { out += "," }
                Self.append(element, to: &out)
            }
            out += "]"
        case .dictionary(let dictionary):
            out += "{"
            for (index, key) in dictionary.keys.sorted().enumerated() {
                if index > 0 { out += "," }
                JSONLine.appendString(key, to: &out)
                out += ":"
                Self.append(dictionary[key]!, to: &out)
            }
            out += "}"
        }
    }
}
