public import Foundation
public import MedTunnelIdentity

/// The operations behind `medtunnel pki`: each works on the CA folder, the gateway folder or both.
public enum PKIOperations {
    /// Creates the CA in `layout.ca` and, in `layout.gateway`, the CA certificate, the gateway's TLS
    /// certificate and key and the command key. Refuses to replace an existing CA unless `force`
    /// (which also replaces the command key).
    @discardableResult
    public static func initialize(
        _ layout: PKILayout,
        gatewayNames: [String] = ["localhost", "127.0.0.1"],
        force: Bool = false,
        now: Date = Date()
    ) throws -> CertificateAuthority {
        let ca = try CertificateAuthority.create(now: now)
        // Validate names before writing anything.
        let gateway = try ca.issue(.gateway(names: gatewayNames), notValidBefore: now.addingTimeInterval(-300))
        try ca.save(to: layout.ca, force: force)
        let directory = layout.gateway
        try writeFileDurably(try ca.certificate.serializeAsPEM().pemString, to: directory.caCertificate, mode: 0o644)
        try writeFileDurably(gateway.privateKeyPEM, to: directory.gatewayKey, mode: 0o600)
        try writeFileDurably(gateway.certificatePEM, to: directory.gatewayCertificate, mode: 0o644)
        try createCommandKey(in: directory, force: force)
        return ca
    }

    /// What ``enroll(_:model:firmware:in:replace:validityDays:now:)`` did.
    public struct Enrollment: Sendable {
        public let identity: DeviceIdentity
        public let certificatePEM: String
        /// The identity was enrolled before and `replace` let a new key take its place.
        public let replaced: Bool
    }

    /// Signs a checked device request: the certificate goes to the CA's record
    /// (`ca/enrolled/KIND/NAME.pem`) and to the gateway folder (`gateway/pumps/SERIAL.pem` or
    /// `gateway/phones/ID.pem`, what the gateway verifies acknowledgements with). An identity
    /// already enrolled is refused (`.alreadyEnrolled`) unless `replace`, which the caller must
    /// report: the old key stops being the device's key for acknowledgements at once.
    public static func enroll(
        _ request: DeviceCertificateRequest,
        model: String? = nil,
        firmware: String? = nil,
        in layout: PKILayout,
        replace: Bool = false,
        validityDays: Int = CertificateAuthority.defaultLeafValidityDays,
        now: Date = Date()
    ) throws -> Enrollment {
        let identity = request.identity
        let record = layout.ca.enrolledCertificate(for: identity)
        let enrolled = FileManager.default.fileExists(atPath: record.path)
        if enrolled && !replace {
            throw PKIError(
                .alreadyEnrolled,
                "\(identity) is already enrolled (\(record.path)); if the device really has a new key "
                    + "(repaired, reset), sign again with --replace, which is reported; otherwise check the "
                    + "\(identity.kind == "pump" ? "serial" : "phone id")"
            )
        }
        let ca = try CertificateAuthority.load(from: layout.ca)
        let certificate = try ca.signDevice(
            DeviceCertificateClaims(identity: identity, model: model, firmware: firmware),
            publicKey: request.publicKey,
            notValidBefore: now.addingTimeInterval(-300),
            notValidAfter: now.addingTimeInterval(Double(validityDays) * 86_400)
        )
        let pem = try certificate.serializeAsPEM().pemString
        // The record first: a crash between the two leaves an enrolled device the gateway does not
        // know yet (signing again with --replace mends it), never one it knows that the CA does not.
        try writeFileDurably(pem, to: record, mode: 0o644)
        try writeFileDurably(pem, to: layout.gateway.certificate(for: identity), mode: 0o644)
        return Enrollment(identity: identity, certificatePEM: pem, replaced: enrolled)
    }
}
