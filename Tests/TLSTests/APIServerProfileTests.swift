import GatewayTLS
import Testing

/// The operator API's HTTPS profile (`GatewayTLSConfiguration.apiServer`): no client
/// certificate, TLS 1.2 and 1.3 with AEAD suites only, and a key that must match its certificate.
@Suite("Gateway TLS engine: operator API profile, OpenSSL both ends in memory")
struct APIServerProfileTests {
    let fixtures = TLSFixtures.shared

    func server() throws -> GatewayTLSConnection {
        try GatewayTLSConnection(
            context: try GatewayTLSContext(
                .apiServer(
                    certificateChainPEM: self.fixtures.gateway.certificatePEM,
                    privateKeyPEM: self.fixtures.gateway.privateKeyPEM
                )
            )
        )
    }

    /// A browser-like client: no certificate of its own, verifies the server's name.
    func client(_ version: GatewayTLSConfiguration.Version) throws -> GatewayTLSConnection {
        var configuration = GatewayTLSConfiguration.apiServer(certificateChainPEM: "", privateKeyPEM: "")
        configuration.role = .client
        configuration.certificateChainPEM = nil
        configuration.privateKeyPEM = nil
        configuration.trustRootsPEM = self.fixtures.caPEM
        configuration.expectedPeer = .host("localhost")
        configuration.minimumVersion = version
        configuration.maximumVersion = version
        configuration.alpnProtocols = []
        return try GatewayTLSConnection(context: try GatewayTLSContext(configuration))
    }

    @Test(
        "a client without a certificate completes TLS 1.3 and TLS 1.2 with an AEAD suite, and data flows",
        arguments: [
            (GatewayTLSConfiguration.Version.tls13, "TLSv1.3", "TLS_AES_128_GCM_SHA256"),
            (.tls12, "TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256"),
        ]
    )
    func anonymousClient(version: GatewayTLSConfiguration.Version, name: String, suite: String) throws {
        let server = try self.server()
        let client = try self.client(version)
        let run = handshake(client: client, server: server)
        #expect(run.serverFailure == nil)
        let peer = try #require(run.serverPeer)
        #expect(peer.identity == nil)
        #expect(peer.protocolVersion == name)
        #expect(peer.cipherSuite == suite)
        let request = client.send(Array("GET /healthz HTTP/1.1\r\n\r\n".utf8))
        #expect(server.feed(request.ciphertext).plaintext == Array("GET /healthz HTTP/1.1\r\n\r\n".utf8))
    }

    @Test("a key that is not the certificate's is refused with privateKeyMismatch")
    func mismatchedKey() throws {
        #expect {
            _ = try GatewayTLSContext(
                .apiServer(
                    certificateChainPEM: self.fixtures.gateway.certificatePEM,
                    privateKeyPEM: self.fixtures.pump.privateKeyPEM
                )
            )
        } throws: { error in
            (error as? GatewayTLSError)?.code == .privateKeyMismatch
        }
    }
}
