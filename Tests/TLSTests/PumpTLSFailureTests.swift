import Foundation
import MedTunnelTestSupport
import PumpTLS
import Testing

/// Every refusal asserts the specific error on the pump's side.
@Suite("PumpTLS fails closed", .offThePool)
struct PumpTLSFailureTests {
    private func failedHandshake(
        arguments: [String] = ["-tls1_2"],
        certificate: String = "server",
        environment: @escaping (PumpTLSTestPKI) -> [String: String] = { _ in [:] },
        serverName: String? = PumpTLSTestPKI.gatewayName,
        pumpIdentity: String? = nil,
        prepare: (PumpTLSTestPKI) throws -> Void = { _ in }
    ) throws -> (PumpTLSError?, server: String) {
        var result: (PumpTLSError?, String) = (nil, "")
        try withGateway(arguments: arguments, certificate: certificate, environment: environment, prepare: prepare) {
            pki,
            server in
            var configuration = try pki.configuration()
            if let pumpIdentity {
                configuration = try PumpTLSConfiguration(
                    trustedCAPEM: pki.caPEM,
                    certificatePEM: String(contentsOfFile: pki.path("\(pumpIdentity).pem"), encoding: .utf8),
                    privateKeyPEM: String(contentsOfFile: pki.path("\(pumpIdentity).key"), encoding: .utf8)
                )
            }
            let tls = try PumpTLSConnection(configuration: configuration, serverName: serverName)
            let socket = try PumpTLSTestSocket(port: server.port)
            handshake(tls, socket)
            #expect(tls.readPlaintext().isEmpty)
            #expect(tls.negotiatedCipherSuite == nil)
            #expect(throws: PumpTLSError.self) { try tls.write(plaintext: [1, 2, 3]) }
            if case .failed(let error) = tls.state { result.0 = error }
            result.1 = server.output
        }
        return result
    }

    @Test("gateway certificate from another CA: untrusted", .timeLimit(.minutes(1)))
    func foreignGatewayCertificate() throws {
        let (error, server) = try self.failedHandshake(certificate: "foreign-server")
        #expect(error?.code == .peerCertificateUntrusted, "\(String(describing: error))\n\(server)")
        #expect(error?.verifyFailures.contains("not trusted") == true)
        #expect(error?.mbedTLSError == -0x2700)
    }

    @Test("gateway certificate for another name: name mismatch", .timeLimit(.minutes(1)))
    func wrongGatewayName() throws {
        let (error, server) = try self.failedHandshake(serverName: "other.medtunnel.test")
        #expect(error?.code == .peerCertificateNameMismatch, "\(String(describing: error))\n\(server)")
        #expect(error?.verifyFailures == ["name mismatch"])
    }

    @Test("expired gateway certificate: expired", .timeLimit(.minutes(1)))
    func expiredGatewayCertificate() throws {
        let (error, server) = try self.failedHandshake(
            certificate: "expired-server",
            prepare: { try $0.makeExpiredServer() }
        )
        #expect(error?.code == .peerCertificateExpired, "\(String(describing: error))\n\(server)")
        #expect(error?.verifyFailures == ["expired"])
    }

    @Test("a pump (clientAuth) certificate presented by the gateway: bad extended key usage", .timeLimit(.minutes(1)))
    func clientCertificateAsServer() throws {
        let (error, server) = try self.failedHandshake(certificate: "pump", serverName: nil)
        #expect(error?.code == .peerCertificateRejected, "\(String(describing: error))\n\(server)")
        #expect(error?.verifyFailures == ["bad extended key usage"])
    }

    @Test("pump certificate from another CA: the gateway refuses it", .timeLimit(.minutes(1)))
    func foreignPumpCertificate() throws {
        let (error, server) = try self.failedHandshake(pumpIdentity: "foreign-server")
        #expect(error?.code == .peerRejectedCertificate, "\(String(describing: error))\n\(server)")
    }

    @Test("gateway speaking only TLS 1.3: protocol version refused", .timeLimit(.minutes(1)))
    func tls13Only() throws {
        let (error, server) = try self.failedHandshake(arguments: ["-tls1_3"])
        #expect(error?.code == .peerRejectedProtocolVersion, "\(String(describing: error))\n\(server)")
        #expect(error?.alert == 70)
    }

    @Test("gateway with only an RSA certificate: handshake failure", .timeLimit(.minutes(1)))
    func rsaOnly() throws {
        let (error, server) = try self.failedHandshake(
            certificate: "rsa-server",
            prepare: { try $0.makeRSAServer() }
        )
        #expect(error?.code == .peerRejectedHandshake, "\(String(describing: error))\n\(server)")
        #expect(error?.alert == 40)
    }

    @Test("gateway offering only non-AEAD suites: handshake failure", .timeLimit(.minutes(1)))
    func nonAEADOnly() throws {
        let (error, server) = try self.failedHandshake(arguments: [
            "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384",
        ])
        #expect(error?.code == .peerRejectedHandshake, "\(String(describing: error))\n\(server)")
        #expect(error?.alert == 40)
    }

    @Test("gateway without extended master secret: refused before any key is used", .timeLimit(.minutes(1)))
    func noExtendedMasterSecret() throws {
        let (error, server) = try self.failedHandshake(
            environment: { ["OPENSSL_CONF": $0.path("no-ems.cnf")] },
            prepare: { pki in
                try """
                openssl_conf = openssl_init
                [openssl_init]
                ssl_conf = ssl_section
                [ssl_section]
                system_default = system_default_section
                [system_default_section]
                Options = -ExtendedMasterSecret

                """.write(toFile: pki.path("no-ems.cnf"), atomically: true, encoding: .utf8)
            }
        )
        #expect(error?.code == .extendedMasterSecretMissing, "\(String(describing: error))\n\(server)")
    }

    @Test("configuration errors are typed")
    func configurationErrors() throws {
        let pki = try PumpTLSTestPKI.create()
        defer { pki.remove() }
        #expect(throws: PumpTLSError.self) {
            try PumpTLSConfiguration(
                trustedCAPEM: "garbage",
                certificatePEM: pki.pumpCertificatePEM,
                privateKeyPEM: pki.pumpKeyPEM
            )
        }
        let otherKey = try String(contentsOfFile: pki.path("server.key"), encoding: .utf8)
        do throws(PumpTLSError) {
            _ = try PumpTLSConfiguration(
                trustedCAPEM: pki.caPEM,
                certificatePEM: pki.pumpCertificatePEM,
                privateKeyPEM: otherKey
            )
            Issue.record("a key that does not match the certificate was accepted")
        } catch {
            #expect(error.code == .invalidConfiguration)
            #expect(error.reason.contains("does not match"))
        }
        do throws(PumpTLSError) {
            _ = try pki.configuration(suites: [])
            Issue.record("an empty suite list was accepted")
        } catch {
            #expect(error.code == .invalidConfiguration)
        }
        let tls = try PumpTLSConnection(configuration: pki.configuration())
        do throws(PumpTLSError) {
            try tls.write(plaintext: [1])
            Issue.record("write before the handshake was accepted")
        } catch {
            #expect(error.code == .notEstablished)
        }
        #expect(throws: PumpTLSError.self) { try tls.exportSession() }
    }
}
