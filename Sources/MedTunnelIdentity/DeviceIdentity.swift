/// The identity a MedTunnel certificate carries: a pump by its serial, or a phone by its id.
///
/// The identity is written into a certificate twice: as the subject common name and as a
/// SAN URI, `urn:medtunnel:pump:SERIAL` or `urn:medtunnel:phone:ID`. Nothing else goes into
/// a device certificate: in TLS 1.2 the relay can read the pump's client certificate, so it
/// must not carry patient data.
///
/// Foundation-free: the pump firmware and the TLS engines share this type.
public enum DeviceIdentity: Hashable, Sendable, CustomStringConvertible {
    case pump(serial: String)
    case phone(id: String)

    /// The longest serial or phone id accepted.
    public static let maximumNameLength = 64

    private static let pumpPrefix = "urn:medtunnel:pump:"
    private static let phonePrefix = "urn:medtunnel:phone:"

    /// The SAN URI form, `urn:medtunnel:pump:SERIAL`.
    public var uri: String {
        switch self {
        case .pump(let serial): return Self.pumpPrefix + serial
        case .phone(let id): return Self.phonePrefix + id
        }
    }

    /// The bare serial or id, used as the subject common name.
    public var name: String {
        switch self {
        case .pump(let serial): return serial
        case .phone(let id): return id
        }
    }

    public var kind: String {
        switch self {
        case .pump: return "pump"
        case .phone: return "phone"
        }
    }

    public var description: String { "\(self.kind) \(self.name)" }

    /// Parses a SAN URI. Returns nil for anything that is not exactly a MedTunnel device URN
    /// with a valid name.
    public init?(uri: String) {
        if uri.hasPrefix(Self.pumpPrefix) {
            let name = String(uri.dropFirst(Self.pumpPrefix.count))
            guard Self.validationProblem(name) == nil else { return nil }
            self = .pump(serial: name)
        } else if uri.hasPrefix(Self.phonePrefix) {
            let name = String(uri.dropFirst(Self.phonePrefix.count))
            guard Self.validationProblem(name) == nil else { return nil }
            self = .phone(id: name)
        } else {
            return nil
        }
    }

    /// Why `name` cannot be a serial or phone id, or nil when it can: 1 to 64 characters of
    /// ASCII letters, digits, `-`, `_` and `.`, starting with a letter or digit.
    public static func validationProblem(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        if bytes.isEmpty { return "is empty" }
        if bytes.count > Self.maximumNameLength {
            return "is \(bytes.count) bytes long; at most \(Self.maximumNameLength) are allowed"
        }
        func isAlphanumeric(_ b: UInt8) -> Bool {
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
        }
        if !isAlphanumeric(bytes[0]) { return "must start with a letter or digit" }
        for b in bytes where !(isAlphanumeric(b) || b == 0x2D || b == 0x5F || b == 0x2E) {
            return "contains a character other than letters, digits, '-', '_' and '.'"
        }
        return nil
    }
}
