public import Foundation
public import MedTunnelIdentity
public import MedTunnelPKI

/// A throwaway PKI for tests, laid out as in production: a temporary root with the offline CA
/// (`ROOT/ca`), the gateway's folder (`ROOT/gateway`: certificates, the gateway and command keys,
/// no device key) and one folder per device (`ROOT/devices/pumps/SERIAL`, `ROOT/devices/phones/ID`)
/// where its key is born and enrolled through a signing request. `remove()` deletes it all.
public struct ThrowawayPKI: Sendable {
    public let root: URL
    public let layout: PKILayout
    /// The pump model written into pump certificates when a test gives none.
    public static let defaultModel = "MedTunnel simulated pump"
    public static let defaultFirmware = "sim-1.0"

    /// A CA, a gateway folder, and `pumps` and `phones` enrolled with keys born in their folders.
    public init(
        pumps: [String] = [],
        phones: [String] = [],
        model: String? = ThrowawayPKI.defaultModel,
        prefix: String = "pki",
        now: Date = Date()
    ) throws {
        self.root = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        self.layout = PKILayout(root: self.root.path)
        try PKIOperations.initialize(self.layout, now: now)
        for serial in pumps { try self.enroll(.pump(serial: serial), model: model, now: now) }
        for id in phones { try self.enroll(.phone(id: id), now: now) }
    }

    /// The gateway's folder: what `--pki` and `GatewayServer.Configuration(pki:)` take.
    public var gateway: PKIDirectory { self.layout.gateway }
    public var ca: CADirectory { self.layout.ca }

    /// Enrolls `identity`: its key is born in its own folder, the CA signs its request.
    public func enroll(
        _ identity: DeviceIdentity,
        model: String? = ThrowawayPKI.defaultModel,
        firmware: String? = ThrowawayPKI.defaultFirmware,
        now: Date = Date()
    ) throws {
        let pump = identity.kind == "pump"
        try self.store(identity).enroll(
            with: self.layout,
            model: pump ? model : nil,
            firmware: pump && model != nil ? firmware : nil,
            now: now
        )
    }

    /// The device's own folder (a pump's or phone's `--state-dir`).
    public func deviceDirectory(_ identity: DeviceIdentity) -> URL {
        self.root.appendingPathComponent("devices")
            .appendingPathComponent(identity.kind == "pump" ? "pumps" : "phones")
            .appendingPathComponent(identity.name)
    }

    public func store(_ identity: DeviceIdentity) -> DeviceStore {
        DeviceStore(directory: self.deviceDirectory(identity).path, identity: identity)
    }

    /// The device's private key, in its own folder (never in the gateway folder).
    public func keyURL(_ identity: DeviceIdentity) -> URL { self.store(identity).key }
    /// The device's certificate as installed on the device.
    public func certificateURL(_ identity: DeviceIdentity) -> URL { self.store(identity).certificate }

    public func keyPEM(_ identity: DeviceIdentity) throws -> String {
        try String(contentsOf: self.keyURL(identity), encoding: .utf8)
    }

    public func certificatePEM(_ identity: DeviceIdentity) throws -> String {
        try String(contentsOf: self.certificateURL(identity), encoding: .utf8)
    }

    public func caCertificatePEM() throws -> String {
        try String(contentsOf: self.gateway.caCertificate, encoding: .utf8)
    }

    public func remove() { try? FileManager.default.removeItem(at: self.root) }
}
