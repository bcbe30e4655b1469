import TherapyModel

/// Any JSON object key.
struct AnyKey: CodingKey {
    let stringValue: String
    let intValue: Int?

    init(_ string: String) {
        self.stringValue = string
        self.intValue = nil
    }

    init?(stringValue: String) {
        self.init(stringValue)
    }

    init?(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}

/// Formats a coding path as `basalSchedule[2].startMinute`.
func fieldPath(_ path: [any CodingKey]) -> String {
    var text = ""
    for key in path {
        if let index = key.intValue {
            text += "[\(index)]"
        } else {
            text += text.isEmpty ? key.stringValue : "." + key.stringValue
        }
    }
    return text
}

/// Reads one JSON object strictly: unknown fields are errors, every value is checked
/// as it is read, and every error carries the field's full path.
struct FieldReader {
    let container: KeyedDecodingContainer<AnyKey>
    let path: [any CodingKey]

    init(_ decoder: any Decoder, fields: [String]) throws {
        container = try decoder.container(keyedBy: AnyKey.self)
        path = decoder.codingPath
        for key in container.allKeys where !fields.contains(key.stringValue) {
            throw TherapyJSONError(
                code: .unknownField,
                field: fieldPath(path + [key]),
                reason: "unknown field '\(key.stringValue)'; expected only \(fields.joined(separator: ", ")) "
                    + "(check the spelling)"
            )
        }
    }

    /// Reads an object without checking for unknown fields, for a tag read before the
    /// object's shape is known (the strict reader follows).
    init(tagOf decoder: any Decoder) throws {
        container = try decoder.container(keyedBy: AnyKey.self)
        path = decoder.codingPath
    }

    func error(_ key: String, _ code: TherapyJSONError.Code, _ reason: String) -> TherapyJSONError {
        TherapyJSONError(code: code, field: fieldPath(path + [AnyKey(key)]), reason: reason)
    }

    func decode<T: Decodable>(_ type: T.Type, _ key: String) throws -> T {
        do {
            return try container.decode(type, forKey: AnyKey(key))
        } catch let error as DecodingError {
            throw error
        } catch let error as TherapyJSONError {
            throw error
        } catch {
            // Foundation reports a number that does not fit (1.5, 1e30 or 2^64 for an
            // integer) with an internal error and no path; name the field here.
            throw self.error(key, .wrongType, "is not a whole number that fits in 64 bits (\(error)); give one")
        }
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, _ key: String) throws -> T? {
        try container.decodeIfPresent(type, forKey: AnyKey(key))
    }

    func string(_ key: String) throws -> String {
        try decode(String.self, key)
    }

    /// An integer of 0 or more (doses, rates, glucose: a negative value is never valid input).
    func nonNegative(_ key: String) throws -> Int64 {
        let value = try decode(Int64.self, key)
        guard value >= 0 else {
            throw error(key, .invalidValue, "\(value) is negative; give 0 or more")
        }
        return value
    }

    /// An integer above 0.
    func positive(_ key: String) throws -> Int64 {
        let value = try decode(Int64.self, key)
        guard value > 0 else {
            throw error(key, .invalidValue, "\(value) is not above 0; give a positive value")
        }
        return value
    }

    /// One of `Value`'s raw values.
    func oneOf<Value: RawRepresentable & CaseIterable>(_ type: Value.Type, _ key: String) throws -> Value
    where Value.RawValue == String {
        let raw = try string(key)
        guard let value = Value(rawValue: raw) else {
            let allowed = Value.allCases.map(\.rawValue).joined(separator: ", ")
            throw error(key, .invalidValue, "'\(raw)' is not one of \(allowed)")
        }
        return value
    }

    /// A list of control names.
    func controls(_ key: String) throws -> ControlSet? {
        guard let names = try decodeIfPresent([String].self, key) else { return nil }
        var kinds: [ControlKind] = []
        for (index, name) in names.enumerated() {
            guard let kind = ControlKind(rawValue: name) else {
                let allowed = ControlKind.allCases.map(\.rawValue).joined(separator: ", ")
                throw TherapyJSONError(
                    code: .invalidValue,
                    field: fieldPath(path + [AnyKey(key), AnyKey(intValue: index)!]),
                    reason: "'\(name)' is not a control; use one of \(allowed)"
                )
            }
            kinds.append(kind)
        }
        return ControlSet(kinds)
    }

    /// Runs a validating initializer, turning its error into a field error at this object.
    func validated<T>(_ build: () throws(TherapyValidationError) -> T) throws -> T {
        try TherapyJSON.validated(at: path, build)
    }
}
