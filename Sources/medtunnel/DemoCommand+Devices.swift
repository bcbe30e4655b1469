import Foundation
import MedTunnelIdentity
import MedTunnelPKI

/// The demo's devices: each pump and phone has its own folder, ROOT/devices/NAME, where its key
/// is born and enrolled with the demo's PKI (ROOT/pki/ca, ROOT/pki/gateway), as a real device
/// would; the gateway folder never holds a device key.
extension DemoCommand {
    static func layout(root: String) -> PKILayout { PKILayout(root: root + "/pki") }

    /// Enrolls `identity` in its own folder (the key is born there).
    static func enroll(_ identity: DeviceIdentity, root: String, model: String? = nil) throws {
        try Self.store(identity, gateway: Self.layout(root: root).gateway).enroll(
            with: Self.layout(root: root),
            model: model,
            firmware: model == nil ? nil : "sim-1.0"
        )
    }

    /// What `identity` runs with, from its own folder.
    static func credentials(_ identity: DeviceIdentity, pki: PKIDirectory) throws -> DeviceCredentials {
        try Self.store(identity, gateway: pki).credentials()
    }

    /// ROOT/devices/NAME, found from the gateway folder ROOT/pki/gateway.
    private static func store(_ identity: DeviceIdentity, gateway: PKIDirectory) -> DeviceStore {
        let root = gateway.root.deletingLastPathComponent().deletingLastPathComponent()
        return DeviceStore(directory: root.appendingPathComponent("devices/\(identity.name)").path, identity: identity)
    }
}
