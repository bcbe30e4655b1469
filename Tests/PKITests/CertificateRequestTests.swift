import Crypto
import Foundation
import MedTunnelIdentity
import MedTunnelPKI
import MedTunnelTestSupport
import SwiftASN1
import Testing
import X509

/// Signing device requests: each refusal has its own code and names the input.
@Suite("certificate signing requests")
struct CertificateRequestTests {
    static func csr(
        commonName: String,
        key: Certificate.PrivateKey,
        algorithm: Certificate.SignatureAlgorithm = .ecdsaWithSHA256
    ) throws -> String {
        try CertificateSigningRequest(
            version: .v1,
            subject: try DistinguishedName { CommonName(commonName) },
            privateKey: key,
            attributes: CertificateSigningRequest.Attributes(),
            signatureAlgorithm: algorithm
        ).serializeAsPEM().pemString
    }

    static func p256(_ name: String) throws -> String {
        try self.csr(commonName: name, key: Certificate.PrivateKey(P256.Signing.PrivateKey()))
    }

    func refusal(_ pem: String, kind: DeviceKind = .pump) throws -> PKIError {
        try #require(throws: PKIError.self) {
            try DeviceCertificateRequest(pem: pem, kind: kind, source: "request.csr")
        }
    }

    @Test("a valid P-256 request names its device and key")
    func valid() throws {
        let request = try DeviceCertificateRequest(pem: try Self.p256("PUMP-0001"), kind: .pump, source: "r.csr")
        #expect(request.identity == .pump(serial: "PUMP-0001"))
        let phone = try DeviceCertificateRequest(pem: try Self.p256("PHONE-1"), kind: .phone, source: "r.csr")
        #expect(phone.identity == .phone(id: "PHONE-1"))
    }

    @Test("not a CSR: garbage, a certificate, an empty file are refused as invalidRequest naming the file")
    func notARequest() throws {
        let throwaway = try ThrowawayPKI()
        defer { throwaway.remove() }
        for pem in ["hello", "", try throwaway.caCertificatePEM()] {
            let error = try self.refusal(pem)
            #expect(error.code == .invalidRequest)
            #expect(error.reason.contains("request.csr is not a PEM certificate signing request"), "\(error)")
        }
    }

    @Test("a request whose signature does not verify is refused as requestSignatureInvalid")
    func badSignature() throws {
        let pem = try Self.p256("PUMP-0001")
        var der = try PEMDocument(pemString: pem).derBytes
        // The last byte is inside the signature's s value: the request still parses.
        der[der.count - 1] ^= 0x01
        let tampered = PEMDocument(type: "CERTIFICATE REQUEST", derBytes: der).pemString
        let error = try self.refusal(tampered)
        #expect(error.code == .requestSignatureInvalid, "\(error)")
        #expect(error.reason.contains("request.csr"))
    }

    @Test("a P-384 key is refused as unsupportedKey, naming the curve")
    func p384() throws {
        let pem = try Self.csr(
            commonName: "PUMP-0001",
            key: Certificate.PrivateKey(P384.Signing.PrivateKey()),
            algorithm: .ecdsaWithSHA384
        )
        let error = try self.refusal(pem)
        #expect(error.code == .unsupportedKey)
        #expect(error.reason.contains("P-384") && error.reason.contains("request.csr"), "\(error)")
    }

    @Test("an invalid serial in the subject is refused as invalidName, naming it")
    func badSerial() throws {
        for name in ["pump 1/../x", "", "-starts-with-dash", String(repeating: "x", count: 65)] {
            let error = try self.refusal(try Self.p256(name))
            #expect(error.code == .invalidName || error.code == .invalidRequest, "\(name): \(error)")
            if !name.isEmpty { #expect(error.reason.contains(String(name.prefix(20))), "\(error)") }
        }
        #expect(try self.refusal(try Self.p256("pump 1")).code == .invalidName)
    }

    @Test("an enrolled serial is refused as alreadyEnrolled unless replace, which reports it")
    func alreadyEnrolled() throws {
        let throwaway = try ThrowawayPKI()
        defer { throwaway.remove() }
        let first = try DeviceCertificateRequest(pem: try Self.p256("PUMP-0001"), kind: .pump, source: "a.csr")
        let enrolled = try PKIOperations.enroll(first, model: "M", firmware: "1", in: throwaway.layout)
        #expect(!enrolled.replaced)
        let second = try DeviceCertificateRequest(pem: try Self.p256("PUMP-0001"), kind: .pump, source: "b.csr")
        let error = try #require(throws: PKIError.self) {
            try PKIOperations.enroll(second, model: "M", firmware: "1", in: throwaway.layout)
        }
        #expect(error.code == .alreadyEnrolled)
        #expect(error.reason.contains("pump PUMP-0001 is already enrolled") && error.reason.contains("--replace"))
        #expect(
            try String(contentsOf: throwaway.gateway.certificate(for: .pump(serial: "PUMP-0001")), encoding: .utf8)
                == enrolled.certificatePEM
        )
        let replaced = try PKIOperations.enroll(second, model: "M", firmware: "1", in: throwaway.layout, replace: true)
        #expect(replaced.replaced)
    }

    @Test("a model or firmware name with bad characters is refused as invalidAttribute, naming it")
    func badAttributes() throws {
        let throwaway = try ThrowawayPKI()
        defer { throwaway.remove() }
        let request = try DeviceCertificateRequest(pem: try Self.p256("PUMP-0001"), kind: .pump, source: "a.csr")
        for (model, firmware) in [("bad\nmodel", "1"), ("M", "fw\u{7}"), ("", "1"), ("Ünïcode", "1"), (" M", "1")] {
            let error = try #require(throws: PKIError.self) {
                try PKIOperations.enroll(request, model: model, firmware: firmware, in: throwaway.layout)
            }
            #expect(error.code == .invalidAttribute, "\(model)/\(firmware): \(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: throwaway.ca.enrolledCertificate(for: request.identity).path))
    }

    @Test("the model and firmware travel in the certificate as extra SAN URNs; identity checks still see one device")
    func modelInCertificate() throws {
        let throwaway = try ThrowawayPKI(pumps: ["PUMP-0001"], model: "Example 0.05 U pump")
        defer { throwaway.remove() }
        let pem = try String(
            contentsOf: throwaway.gateway.certificate(for: .pump(serial: "PUMP-0001")),
            encoding: .utf8
        )
        let claims = try DeviceCertificateClaims(pem: pem)
        #expect(claims.identity == .pump(serial: "PUMP-0001"))
        #expect(claims.model == "Example 0.05 U pump")
        #expect(claims.firmware == ThrowawayPKI.defaultFirmware)
        let uris = try Certificate(pemEncoded: pem).extensions.subjectAlternativeNames?.compactMap { name in
            if case .uniformResourceIdentifier(let uri) = name { return uri } else { return nil }
        }
        #expect(
            uris == [
                "urn:medtunnel:pump:PUMP-0001", "urn:medtunnel:model:Example%200.05%20U%20pump",
                "urn:medtunnel:firmware:sim-1.0",
            ]
        )
        #expect(try throwaway.certificatePEM(.pump(serial: "PUMP-0001")) == pem)
    }
}
