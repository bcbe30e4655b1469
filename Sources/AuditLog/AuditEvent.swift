/// Who caused an audit entry: an identifier and the role under which they acted.
public struct AuditActor: Hashable, Sendable {
    public let id: String
    /// `patient`, `clinician`, `operator`, `incident`, `system`, `pump`, ... (syntax as for kinds).
    public let role: String

    public init(id: String, role: String) throws {
        guard (1...AuditEvent.maximumFieldBytes).contains(id.utf8.count) else {
            throw AuditLogError(.invalidEvent, "actor id: must be 1...\(AuditEvent.maximumFieldBytes) bytes of UTF-8")
        }
        guard AuditKind.isValid(role) else {
            throw AuditLogError(.invalidEvent, "actor role \"\(role)\": must be 1...64 characters from a-z 0-9 . _ -")
        }
        self.id = id
        self.role = role
    }
}

/// An event to append: everything in an entry except its index, which the log assigns.
public struct AuditEvent: Hashable, Sendable {
    /// Milliseconds since 1970-01-01T00:00:00Z, passed in by the caller (the log never reads a clock).
    public let timeMilliseconds: Int64
    public let actor: AuditActor
    public let kind: AuditKind
    public let pumpSerial: String?
    public let phoneID: String?
    /// Opaque bytes, usually JSON. Stored and hashed exactly as given.
    public let payload: [UInt8]

    public static let maximumFieldBytes = 256
    public static let maximumPayloadBytes = 1 << 20

    public init(
        timeMilliseconds: Int64,
        actor: AuditActor,
        kind: AuditKind,
        pumpSerial: String? = nil,
        phoneID: String? = nil,
        payload: [UInt8] = []
    ) throws {
        for (name, value) in [("pump serial", pumpSerial), ("phone id", phoneID)] {
            if let value, value.utf8.count > Self.maximumFieldBytes {
                throw AuditLogError(.invalidEvent, "\(name): longer than \(Self.maximumFieldBytes) bytes")
            }
        }
        guard payload.count <= Self.maximumPayloadBytes else {
            throw AuditLogError(.invalidEvent, "payload: \(payload.count) bytes, at most \(Self.maximumPayloadBytes)")
        }
        self.timeMilliseconds = timeMilliseconds
        self.actor = actor
        self.kind = kind
        self.pumpSerial = pumpSerial
        self.phoneID = phoneID
        self.payload = payload
    }
}

/// An event at its place in the log.
public struct AuditEntry: Hashable, Sendable {
    public let index: UInt64
    public let event: AuditEvent

    public init(index: UInt64, event: AuditEvent) {
        self.index = index
        self.event = event
    }
}
