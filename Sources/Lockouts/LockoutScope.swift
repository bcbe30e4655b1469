/// What a lockout covers, written `pump:SERIAL`, `patient:ID`, `phone:ID`, `model:NAME`,
/// `firmware:VERSION` or `all`.
///
/// Every scope but `phone` is a standing order to pumps: each pump it covers, now or whenever
/// it next connects, gets a signed `lockoutStart` first on its session and refuses remote
/// changes until the lift. Model and firmware scopes match what the pump announces in its hello,
/// so they also cover pumps enrolled after the lockout started.
///
/// A `phone` scope shuts the phone out instead: its uplinks are closed at once and new ones are
/// refused, so nothing reaches any pump through it; the pumps themselves are not locked and may
/// reconnect through another phone (a phone is untrusted network, not part of the therapy).
public enum LockoutScope: Sendable, Hashable, CustomStringConvertible {
    case pump(String)
    case patient(String)
    case phone(String)
    case model(String)
    case firmware(String)
    case all

    public static let maximumValueLength = 64

    /// Parses `kind:value` or `all`. Throws `unknownScope` naming the text and the forms.
    public init(parsing text: String) throws(LockoutError) {
        if text == "all" {
            self = .all
            return
        }
        guard let colon = text.firstIndex(of: ":") else { throw Self.unknown(text) }
        let kind = String(text[..<colon])
        let value = String(text[text.index(after: colon)...])
        guard (1...Self.maximumValueLength).contains(value.utf8.count),
            value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }), value.first != " ", value.last != " "
        else {
            throw LockoutError(
                .unknownScope,
                "scope '\(text.prefix(80))': the value after '\(kind):' must be 1 to 64 printable ASCII characters, "
                    + "not starting or ending with a space"
            )
        }
        switch kind {
        case "pump": self = .pump(value)
        case "patient": self = .patient(value)
        case "phone": self = .phone(value)
        case "model": self = .model(value)
        case "firmware": self = .firmware(value)
        default: throw Self.unknown(text)
        }
    }

    private static func unknown(_ text: String) -> LockoutError {
        LockoutError(
            .unknownScope,
            "scope '\(text.prefix(80))' is not one of pump:SERIAL, patient:ID, phone:ID, model:NAME, "
                + "firmware:VERSION, all"
        )
    }

    public var description: String {
        switch self {
        case .pump(let serial): "pump:\(serial)"
        case .patient(let id): "patient:\(id)"
        case .phone(let id): "phone:\(id)"
        case .model(let name): "model:\(name)"
        case .firmware(let version): "firmware:\(version)"
        case .all: "all"
        }
    }

    /// Whether this scope locks pumps (every scope but a phone's).
    public var locksPumps: Bool {
        if case .phone = self { return false }
        return true
    }

    /// Whether the pump with these attributes is in scope. A phone scope covers no pump.
    public func covers(_ pump: PumpAttributes) -> Bool {
        switch self {
        case .pump(let serial): pump.serial == serial
        case .patient(let id): pump.patient == id
        case .phone: false
        case .model(let name): pump.model == name
        case .firmware(let version): pump.firmware == version
        case .all: true
        }
    }
}

/// What the gateway knows of one pump for matching lockout scopes: its serial (from its
/// certificate), its patient (from its prescription), and the model and firmware it announced
/// in its last hello. Unknown values match no scope that names one.
public struct PumpAttributes: Sendable, Hashable {
    public var serial: String
    public var patient: String?
    public var model: String?
    public var firmware: String?

    public init(serial: String, patient: String? = nil, model: String? = nil, firmware: String? = nil) {
        self.serial = serial
        self.patient = patient
        self.model = model
        self.firmware = firmware
    }
}
