public import MedTunnelIdentity

/// The two kinds of device MedTunnel enrolls.
public enum DeviceKind: String, Sendable {
    case pump
    case phone

    public func identity(_ name: String) -> DeviceIdentity {
        switch self {
        case .pump: .pump(serial: name)
        case .phone: .phone(id: name)
        }
    }

    var nameWord: String { self == .pump ? "serial" : "phone id" }
    var deviceCommand: String {
        self == .pump ? "pump-sim --state-dir DIR --serial S" : "relay --state-dir DIR --phone-id ID"
    }
}
