/// The few FHIR R4 data types an `AuditEvent` export needs, as Encodable values: absent optionals
/// are left out (FHIR JSON has no nulls) and no array is ever empty (FHIR JSON forbids `[]`).
public struct FHIRCoding: Encodable, Hashable, Sendable {
    public let system: String
    public let code: String
    public let display: String?

    public init(system: String, code: String, display: String?) {
        self.system = system
        self.code = code
        self.display = display
    }
}

public struct FHIRCodeableConcept: Encodable, Hashable, Sendable {
    public let coding: [FHIRCoding]
    public let text: String?

    public init(_ coding: FHIRCoding, text: String? = nil) {
        self.coding = [coding]
        self.text = text
    }
}

public struct FHIRIdentifier: Encodable, Hashable, Sendable {
    public let system: String
    public let value: String
}

/// A logical reference: by identifier, since the patients, pumps and users named live outside
/// any FHIR server (R4 `Reference.identifier`, with `type` the resource type it would be).
public struct FHIRReference: Encodable, Hashable, Sendable {
    public let type: String?
    public let identifier: FHIRIdentifier
    public let display: String?
}

/// R4 `AuditEvent.action`: create, read, update, delete, execute.
public enum FHIRAction: String, Encodable, Sendable {
    case create = "C"
    case read = "R"
    case update = "U"
    case delete = "D"
    case execute = "E"
}

/// R4 `AuditEvent.outcome` (audit-event-outcome).
public enum FHIROutcome: String, Encodable, Sendable {
    case success = "0"
    case minorFailure = "4"
    case seriousFailure = "8"
    case majorFailure = "12"

    public var display: String {
        switch self {
        case .success: "Success"
        case .minorFailure: "Minor failure"
        case .seriousFailure: "Serious failure"
        case .majorFailure: "Major failure"
        }
    }
}

/// R4 `AuditEvent`, the elements this export fills.
struct FHIRAuditEvent: Encodable {
    let resourceType = "AuditEvent"
    let id: String
    let type: FHIRCoding
    let subtype: [FHIRCoding]?
    let action: FHIRAction
    let recorded: String
    let outcome: FHIROutcome
    let outcomeDesc: String?
    let agent: [Agent]
    let source: Source
    let entity: [Entity]

    struct Agent: Encodable {
        let type: FHIRCodeableConcept
        let role: [FHIRCodeableConcept]
        let who: FHIRReference
        let requestor: Bool
    }

    struct Source: Encodable {
        let site: String
        let observer: FHIRReference
        let type: [FHIRCoding]
    }

    struct Entity: Encodable {
        let what: FHIRReference
        let type: FHIRCoding
        let role: FHIRCoding?
        let description: String?
        let detail: [Detail]?
    }

    /// `valueString` or `valueBase64Binary`: exactly one is set (the R4 choice `value[x]`).
    struct Detail: Encodable {
        let type: String
        let valueString: String?
        let valueBase64Binary: String?
    }
}
