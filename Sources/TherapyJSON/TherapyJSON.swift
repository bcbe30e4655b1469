public import Foundation
public import SafetyPolicy
public import TherapyModel

/// JSON for the therapy model and the safety policy, for the operator API and the CLI.
///
/// Kept out of `TherapyModel` so that module stays Foundation-free (and free of the
/// `any Decoder` existentials Codable needs) for the pump firmware. Decoding yields
/// only valid values: every field is type-checked, range-checked and run through the
/// model's validating initializers; unknown fields are errors (a misspelt optional
/// field must not be silently ignored). Every error is a `TherapyJSONError` naming the
/// field path and the problem.
///
/// The formats, with units in the field names so no number is ambiguous, are shown
/// in `Examples/policy/`.
public enum TherapyJSON {
    public static func pumpModel(from data: Data) throws(TherapyJSONError) -> PumpModel {
        try decode(PumpModelJSON.self, from: data).value
    }

    public static func settings(from data: Data) throws(TherapyJSONError) -> TherapySettings {
        try decode(SettingsJSON.self, from: data).value
    }

    public static func prescription(from data: Data) throws(TherapyJSONError) -> Prescription {
        try decode(PrescriptionJSON.self, from: data).value
    }

    public static func history(from data: Data) throws(TherapyJSONError) -> DeliveryHistory {
        try decode(HistoryJSON.self, from: data).value
    }

    public static func actor(from data: Data) throws(TherapyJSONError) -> PolicyActor {
        try decode(ActorJSON.self, from: data).value
    }

    public static func change(from data: Data) throws(TherapyJSONError) -> SettingChange {
        try decode(ChangeJSON.self, from: data).value
    }

    /// `{"decision": "accept"|"needs_approval"|"reject", "reasons": [{"code": …, "message": …}]}`,
    /// pretty-printed with sorted keys.
    public static func encode(_ decision: PolicyDecision) -> Data {
        let document = DecisionJSON(
            decision: decision.name,
            reasons: decision.reasons.map { DecisionJSON.Reason(code: $0.code.rawValue, message: $0.message) }
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Encoding two strings and an array of string pairs cannot fail.
        return (try? encoder.encode(document)) ?? Data()
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws(TherapyJSONError) -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as TherapyJSONError {
            throw error
        } catch let error as DecodingError {
            throw translate(error)
        } catch {
            throw TherapyJSONError(code: .malformedJSON, field: "", reason: "could not read the JSON: \(error)")
        }
    }

    /// Runs a validating initializer, turning its error into a field error under `path`.
    static func validated<T>(
        at path: [any CodingKey],
        _ build: () throws(TherapyValidationError) -> T
    ) throws(TherapyJSONError) -> T {
        do {
            return try build()
        } catch {
            let field = error.prefixingField(fieldPath(path)).field
            throw TherapyJSONError(code: .invalidValue, field: field, reason: "\(error.reason) [\(error.code)]")
        }
    }

    /// The one place Foundation's decoding errors become field errors.
    private static func translate(_ error: DecodingError) -> TherapyJSONError {
        switch error {
        case .keyNotFound(let key, let context):
            return TherapyJSONError(
                code: .missingField,
                field: fieldPath(context.codingPath + [key]),
                reason: "is missing; add it"
            )
        case .valueNotFound(let type, let context):
            return TherapyJSONError(
                code: .wrongType,
                field: fieldPath(context.codingPath),
                reason: "is null; give a \(typeName(type))"
            )
        case .typeMismatch(let type, let context):
            return TherapyJSONError(
                code: .wrongType,
                field: fieldPath(context.codingPath),
                reason: "is not a \(typeName(type)); give a \(typeName(type))"
            )
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return TherapyJSONError(
                code: .malformedJSON,
                field: "",
                reason: "the document is not valid JSON (\(detail(context))); fix its syntax"
            )
        case .dataCorrupted(let context):
            return TherapyJSONError(
                code: .wrongType,
                field: fieldPath(context.codingPath),
                reason: "\(context.debugDescription); give a whole number in range"
            )
        @unknown default:
            return TherapyJSONError(code: .malformedJSON, field: "", reason: "could not read the JSON: \(error)")
        }
    }

    private static func detail(_ context: DecodingError.Context) -> String {
        guard let underlying = context.underlyingError else { return context.debugDescription }
        return "\(underlying)"
    }

    private static func typeName(_ type: Any.Type) -> String {
        if type == Int64.self || type == Int.self { return "whole number" }
        if type == String.self { return "string" }
        if type == Bool.self { return "true or false" }
        if type == [Any].self { return "list" }
        if type == [String: Any].self { return "JSON object" }
        return "\(type)"
    }
}
