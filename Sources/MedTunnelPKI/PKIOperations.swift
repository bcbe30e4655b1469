public import Foundation
public import MedTunnelIdentity

/// The operations behind `medtunnel pki`: each works on a PKI directory.
public enum PKIOperations {
    /// Creates the CA, the gateway certificate and the command key. Refuses to replace an
    /// existing CA unless `force` (which also replaces the command key).
    @discardableResult
    public static func initialize(
        _ directory: PKIDirectory,
        gatewayNames: [String] = ["localhost", "127.0.0.1"],
        force: Bool = false,
        now: Date = Date()
    ) throws -> CertificateAuthority {
        let ca = try CertificateAuthority.create(now: now)
        // Validate names before writing anything.
        let gateway = try ca.issue(.gateway(names: gatewayNames), notValidBefore: now.addingTimeInterval(-300))
        try ca.save(to: directory, force: force)
        try writeFileDurably(gateway.privateKeyPEM, to: directory.gatewayKey, mode: 0o600)
        try writeFileDurably(gateway.certificatePEM, to: directory.gatewayCertificate, mode: 0o644)
        try createCommandKey(in: directory, force: force)
        return ca
    }

    /// Issues a device certificate into `DIR/pumps/` or `DIR/phones/`. An existing one is
    /// kept (and returned as `false`) unless `force`.
    @discardableResult
    public static func issue(
        _ identity: DeviceIdentity,
        in directory: PKIDirectory,
        validityDays: Int = CertificateAuthority.defaultLeafValidityDays,
        force: Bool = false,
        now: Date = Date()
    ) throws -> Bool {
        if let problem = DeviceIdentity.validationProblem(identity.name) {
            throw PKIError(.invalidName, "\(identity.kind) name '\(identity.name)' \(problem)")
        }
        let certificateURL = directory.certificate(for: identity)
        if !force && FileManager.default.fileExists(atPath: certificateURL.path) {
            return false
        }
        let ca = try CertificateAuthority.load(from: directory)
        let credential = try ca.issue(
            .device(identity),
            notValidBefore: now.addingTimeInterval(-300),
            notValidAfter: now.addingTimeInterval(Double(validityDays) * 86_400)
        )
        try writeFileDurably(credential.privateKeyPEM, to: directory.key(for: identity), mode: 0o600)
        try writeFileDurably(credential.certificatePEM, to: certificateURL, mode: 0o644)
        return true
    }
}
