import GatewayTLS
import MedTunnelIdentity
import MedTunnelPKI
import Testing

@Suite("Gateway TLS engine: pump profile, OpenSSL both ends in memory")
struct GatewayTLSHandshakeTests {
    let fixtures = TLSFixtures.shared

    func makeServer(
        isRevoked: @escaping @Sendable (DeviceIdentity) -> Bool = { _ in false }
    ) throws
        -> GatewayTLSContext
    {
        try GatewayTLSContext(self.fixtures.pumpServerConfiguration(), isRevoked: isRevoked)
    }

    @Test("a pump-profile client completes the handshake and the gateway names the pump")
    func handshakeNamesThePump() throws {
        let server = try GatewayTLSConnection(context: try self.makeServer())
        let client = try GatewayTLSConnection(
            context: try GatewayTLSContext(self.fixtures.openSSLPumpClient(self.fixtures.pump))
        )
        let run = handshake(client: client, server: server)
        #expect(run.serverFailure == nil)
        let peer = try #require(run.serverPeer)
        #expect(peer.identity == .pump(serial: TLSFixtures.pumpSerial))
        #expect(peer.protocolVersion == "TLSv1.2")
        #expect(peer.resumed == false)
        #expect(run.clientPeer != nil)

        let request = client.send(Array("telemetry 42".utf8))
        #expect(server.feed(request.ciphertext).plaintext == Array("telemetry 42".utf8))
        let reply = server.send(Array("ack".utf8))
        #expect(client.feed(reply.ciphertext).plaintext == Array("ack".utf8))
    }

    @Test(
        "each AEAD suite of the pump profile is negotiated",
        arguments: ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-ECDSA-AES128-CCM"]
    )
    func eachSuite(suite: String) throws {
        var configuration = self.fixtures.openSSLPumpClient(self.fixtures.pump)
        configuration.cipherList = suite
        let client = try GatewayTLSConnection(context: try GatewayTLSContext(configuration))
        let server = try GatewayTLSConnection(context: try self.makeServer())
        let run = handshake(client: client, server: server)
        #expect(run.serverPeer?.cipherSuite == suite)
    }

    @Test("a pump certificate from another CA is refused by the gateway")
    func foreignPumpCertificate() throws {
        let client = try GatewayTLSConnection(
            context: try GatewayTLSContext(self.fixtures.openSSLPumpClient(self.fixtures.foreignPump))
        )
        let server = try GatewayTLSConnection(context: try self.makeServer())
        let run = handshake(client: client, server: server)
        let error = try #require(run.serverFailure)
        #expect(error.code == .certificateRejected)
        #expect(error.verifyFailure?.code == 20)  // X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
        #expect(run.serverPeer == nil)
    }

    @Test("an expired pump certificate is refused by the gateway")
    func expiredPumpCertificate() throws {
        let client = try GatewayTLSConnection(
            context: try GatewayTLSContext(self.fixtures.openSSLPumpClient(self.fixtures.expiredPump))
        )
        let server = try GatewayTLSConnection(context: try self.makeServer())
        let error = try #require(handshake(client: client, server: server).serverFailure)
        #expect(error.code == .certificateRejected)
        #expect(error.verifyFailure?.code == 10)  // X509_V_ERR_CERT_HAS_EXPIRED
    }

    @Test("a gateway (serverAuth) certificate presented as a pump certificate is refused")
    func wrongExtendedKeyUsage() throws {
        let client = try GatewayTLSConnection(
            context: try GatewayTLSContext(self.fixtures.openSSLPumpClient(self.fixtures.gateway))
        )
        let server = try GatewayTLSConnection(context: try self.makeServer())
        let error = try #require(handshake(client: client, server: server).serverFailure)
        #expect(error.code == .certificateRejected)
        #expect(error.verifyFailure?.code == 26)  // X509_V_ERR_INVALID_PURPOSE
    }

    @Test("a phone certificate offered on the pump listener is refused")
    func phoneCertificateOnPumpListener() throws {
        let client = try GatewayTLSConnection(
            context: try GatewayTLSContext(self.fixtures.openSSLPumpClient(self.fixtures.phone))
        )
        let server = try GatewayTLSConnection(context: try self.makeServer())
        let error = try #require(handshake(client: client, server: server).serverFailure)
        #expect(error.code == .identityRejected)
    }

    @Test("a client without a certificate is refused")
    func noClientCertificate() throws {
        let client = try GatewayTLSConnection(context: try GatewayTLSContext(self.fixtures.openSSLPumpClient(nil)))
        let server = try GatewayTLSConnection(context: try self.makeServer())
        let error = try #require(handshake(client: client, server: server).serverFailure)
        #expect(error.code == .noPeerCertificate)
    }

    @Test("a revoked pump is refused on a full handshake")
    func revokedFullHandshake() throws {
        let client = try GatewayTLSConnection(
            context: try GatewayTLSContext(self.fixtures.openSSLPumpClient(self.fixtures.pump))
        )
        let server = try GatewayTLSConnection(context: try self.makeServer(isRevoked: { _ in true }))
        let error = try #require(handshake(client: client, server: server).serverFailure)
        #expect(error.code == .certificateRevoked)
    }

    @Test("a client offering only TLS 1.3 is refused")
    func onlyTLS13() throws {
        var configuration = self.fixtures.openSSLPumpClient(self.fixtures.pump)
        configuration.minimumVersion = .tls13
        configuration.maximumVersion = .tls13
        configuration.cipherSuites = "TLS_AES_128_GCM_SHA256"
        let client = try GatewayTLSConnection(context: try GatewayTLSContext(configuration))
        let server = try GatewayTLSConnection(context: try self.makeServer())
        let error = try #require(handshake(client: client, server: server).serverFailure)
        #expect(error.code == .unsupportedProtocolVersion)
    }

    @Test(
        "a client offering only non-AEAD or only RSA suites is refused",
        arguments: [
            "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-GCM-SHA256:AES128-GCM-SHA256",
        ]
    )
    func noSharedSuite(cipherList: String) throws {
        var configuration = self.fixtures.openSSLPumpClient(self.fixtures.pump)
        configuration.cipherList = cipherList
        configuration.signatureAlgorithms = "ECDSA+SHA256:RSA+SHA256:rsa_pss_rsae_sha256"
        let client = try GatewayTLSConnection(context: try GatewayTLSContext(configuration))
        let server = try GatewayTLSConnection(context: try self.makeServer())
        let run = handshake(client: client, server: server)
        let error = try #require(run.serverFailure)
        #expect(error.code == .noSharedCipher, "\(error) / client: \(String(describing: run.clientFailure))")
    }

    @Test("a client that does not offer the extended master secret is refused")
    func noExtendedMasterSecret() throws {
        var hostile = self.fixtures.openSSLPumpClient(self.fixtures.pump)
        hostile.omitsExtendedMasterSecret = true
        let client = try GatewayTLSConnection(context: try GatewayTLSContext(hostile))
        let server = try GatewayTLSConnection(context: try self.makeServer())
        let run = handshake(client: client, server: server)
        #expect(run.serverFailure?.code == .extendedMasterSecretMissing)
        #expect(run.serverPeer == nil)
    }

    @Test("a renegotiation attempt ends the session at the gateway")
    func renegotiationAttempt() throws {
        var hostile = self.fixtures.openSSLPumpClient(self.fixtures.pump)
        hostile.allowsRenegotiation = true
        let client = try GatewayTLSConnection(context: try GatewayTLSContext(hostile))
        let server = try GatewayTLSConnection(context: try self.makeServer())
        #expect(handshake(client: client, server: server).serverPeer != nil)
        let attempt = client.attemptRenegotiation()
        #expect(!attempt.ciphertext.isEmpty)
        let output = server.feed(attempt.ciphertext)
        #expect(output.failure?.code == .renegotiationRefused)
        #expect(server.send([1]).failure?.code == .closed)
    }

    @Test("an OpenSSL client resumes its session and the gateway confirms it")
    func resumption() throws {
        let serverContext = try self.makeServer()
        let clientContext = try GatewayTLSContext(self.fixtures.openSSLPumpClient(self.fixtures.pump))
        let first = try GatewayTLSConnection(context: clientContext)
        #expect(handshake(client: first, server: try GatewayTLSConnection(context: serverContext)).serverPeer != nil)
        let session = try #require(first.resumableSession())
        let second = try GatewayTLSConnection(context: clientContext, resuming: session)
        let run = handshake(client: second, server: try GatewayTLSConnection(context: serverContext))
        #expect(run.serverPeer?.resumed == true)
        #expect(run.serverPeer?.identity == .pump(serial: TLSFixtures.pumpSerial))
    }
}
