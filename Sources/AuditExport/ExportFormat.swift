/// The shapes an export takes.
///
/// | format  | content type            | one entry is                                   |
/// |---------|-------------------------|------------------------------------------------|
/// | `jsonl` | `application/x-ndjson`  | one JSON object on one line                    |
/// | `csv`   | `text/csv`              | one RFC 4180 record (CRLF), after a header     |
/// | `fhir`  | `application/fhir+json` | one FHIR R4 `AuditEvent` in a `collection` Bundle |
public enum ExportFormat: String, Sendable, CaseIterable {
    case jsonl
    case csv
    case fhir

    /// Parses a `format` parameter, naming it in the error.
    public init(parameter value: String) throws(ExportError) {
        guard let format = ExportFormat(rawValue: value) else {
            throw ExportError(
                .invalidParameter,
                parameter: "format",
                "format '\(value)': expected one of \(Self.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        self = format
    }

    public var contentType: String {
        switch self {
        case .jsonl: "application/x-ndjson"
        case .csv: "text/csv; charset=utf-8; header=present"
        case .fhir: "application/fhir+json"
        }
    }

    public var fileExtension: String {
        switch self {
        case .jsonl: "jsonl"
        case .csv: "csv"
        case .fhir: "fhir.json"
        }
    }
}
