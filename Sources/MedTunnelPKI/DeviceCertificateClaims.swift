public import MedTunnelIdentity
public import X509

/// What a device certificate states, read back from its SANs.
///
/// A pump certificate carries, besides its identity URN (`urn:medtunnel:pump:SERIAL`), the pump
/// model and the firmware it was provisioned with, as two more SAN URIs:
///
/// ```
/// urn:medtunnel:model:NAME          the pump model (percent-encoded: model names have spaces)
/// urn:medtunnel:firmware:VERSION    the firmware at provisioning (the hello reports the running one)
/// ```
/// so the gateway knows the model from the CA's signature, not from a clinician's request body or
/// the pump's hello. These URNs are not identities: `DeviceIdentity(uri:)` rejects them, so the
/// TLS check (exactly one identity URN) and ``AcknowledgementVerifier`` are unaffected. Nothing
/// else goes in: the relay can read the certificate (TLS 1.2), so no patient data.
public struct DeviceCertificateClaims: Sendable, Equatable {
    public let identity: DeviceIdentity
    public let model: String?
    public let firmware: String?

    static let modelPrefix = "urn:medtunnel:model:"
    static let firmwarePrefix = "urn:medtunnel:firmware:"
    /// The longest model or firmware name accepted.
    public static let maximumAttributeLength = 64

    public init(identity: DeviceIdentity, model: String?, firmware: String?) {
        self.identity = identity
        self.model = model
        self.firmware = firmware
    }

    /// Reads a device certificate's claims; refuses one without exactly one identity URN.
    public init(certificate: Certificate) throws {
        var identities: [DeviceIdentity] = []
        var model: String?
        var firmware: String?
        for name in try certificate.extensions.subjectAlternativeNames ?? SubjectAlternativeNames() {
            guard case .uniformResourceIdentifier(let uri) = name else { continue }
            if let identity = DeviceIdentity(uri: uri) {
                identities.append(identity)
            } else if uri.hasPrefix(Self.modelPrefix) {
                model = Self.percentDecoded(uri.dropFirst(Self.modelPrefix.count))
            } else if uri.hasPrefix(Self.firmwarePrefix) {
                firmware = Self.percentDecoded(uri.dropFirst(Self.firmwarePrefix.count))
            }
        }
        guard identities.count == 1, let identity = identities.first else {
            throw PKIError(
                .invalidName,
                "the certificate names \(identities.count) MedTunnel devices; exactly one is required"
            )
        }
        self.init(identity: identity, model: model, firmware: firmware)
    }

    public init(pem: String) throws {
        let certificate: Certificate
        do {
            certificate = try Certificate(pemEncoded: pem)
        } catch {
            throw PKIError(.unreadableFile, "not a PEM certificate: \(error)")
        }
        try self.init(certificate: certificate)
    }

    /// The SAN URIs for these claims, the identity first.
    var subjectAlternativeNames: [GeneralName] {
        var names: [GeneralName] = [.uniformResourceIdentifier(self.identity.uri)]
        if let model { names.append(.uniformResourceIdentifier(Self.modelPrefix + Self.percentEncoded(model))) }
        if let firmware {
            names.append(.uniformResourceIdentifier(Self.firmwarePrefix + Self.percentEncoded(firmware)))
        }
        return names
    }

    /// Why `value` cannot be a model or firmware name, or nil when it can: 1 to 64 printable
    /// ASCII characters (space included, not at either end).
    public static func validationProblem(_ value: String) -> String? {
        let bytes = Array(value.utf8)
        if bytes.isEmpty { return "is empty" }
        if bytes.count > Self.maximumAttributeLength {
            return "is \(bytes.count) bytes long; at most \(Self.maximumAttributeLength) are allowed"
        }
        if !bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            return "contains a character that is not printable ASCII (control characters and non-ASCII are refused)"
        }
        if bytes.first == 0x20 || bytes.last == 0x20 { return "starts or ends with a space" }
        return nil
    }

    /// Unreserved characters (RFC 3986) stay; every other byte becomes %XX.
    static func percentEncoded(_ value: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for b in value.utf8 {
            let unreserved =
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D
                || b == 0x2E || b == 0x5F || b == 0x7E
            if unreserved {
                out.append(b)
            } else {
                out += [0x25, hex[Int(b >> 4)], hex[Int(b & 0x0F)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Nil for a malformed escape or a result that is not a valid name (a certificate this CA did not write).
    static func percentDecoded(_ text: Substring) -> String? {
        var out: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        while let b = bytes.popFirst() {
            guard b == 0x25 else {
                out.append(b)
                continue
            }
            guard bytes.count >= 2, let value = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16)
            else { return nil }
            out.append(value)
            bytes = bytes.dropFirst(2)
        }
        let value = String(decoding: out, as: UTF8.self)
        return validationProblem(value) == nil ? value : nil
    }
}
