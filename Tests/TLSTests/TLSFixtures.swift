import Foundation
import GatewayTLS
import MedTunnelIdentity
import MedTunnelPKI

/// A throwaway PKI generated per test run (never committed): the MedTunnel CA, a gateway,
/// pumps and phones, plus a foreign CA and deliberately bad certificates.
struct TLSFixtures: Sendable {
    let ca: CertificateAuthority
    let caPEM: String
    let gateway: IssuedCredential
    let pump: IssuedCredential
    let otherPump: IssuedCredential
    let phone: IssuedCredential
    let foreignCAPEM: String
    let foreignPump: IssuedCredential
    let foreignGateway: IssuedCredential
    let expiredPump: IssuedCredential

    static let pumpSerial = "PUMP-0001"
    static let otherPumpSerial = "PUMP-0002"

    /// Generated once per test process: P-256 key generation is cheap, but there is no
    /// reason to repeat it for every test.
    static let shared: TLSFixtures = try! TLSFixtures()

    init() throws {
        let ca = try CertificateAuthority.create()
        self.ca = ca
        self.caPEM = try ca.certificate.serializeAsPEM().pemString
        self.gateway = try ca.issue(.gateway(names: ["localhost", "127.0.0.1"]))
        self.pump = try ca.issue(.device(.pump(serial: Self.pumpSerial)))
        self.otherPump = try ca.issue(.device(.pump(serial: Self.otherPumpSerial)))
        self.phone = try ca.issue(.device(.phone(id: "PHONE-1")))
        let foreign = try CertificateAuthority.create(commonName: "Foreign CA")
        self.foreignCAPEM = try foreign.certificate.serializeAsPEM().pemString
        self.foreignPump = try foreign.issue(.device(.pump(serial: Self.pumpSerial)))
        self.foreignGateway = try foreign.issue(.gateway(names: ["localhost"]))
        let past = Date().addingTimeInterval(-30 * 86_400)
        self.expiredPump = try ca.issue(
            .device(.pump(serial: Self.pumpSerial)),
            notValidBefore: past,
            notValidAfter: past.addingTimeInterval(86_400)
        )
    }

    func pumpServerConfiguration() -> GatewayTLSConfiguration {
        .pumpServer(
            trustRootsPEM: self.caPEM,
            certificateChainPEM: self.gateway.certificatePEM,
            privateKeyPEM: self.gateway.privateKeyPEM
        )
    }

    func openSSLPumpClient(_ credential: IssuedCredential?) -> GatewayTLSConfiguration {
        .pumpClient(
            trustRootsPEM: self.caPEM,
            certificateChainPEM: credential?.certificatePEM,
            privateKeyPEM: credential?.privateKeyPEM,
            gatewayHost: "localhost"
        )
    }
}

/// Shuttles ciphertext between two in-memory TLS ends until neither has anything to say.
/// The hook lets a test tamper with what travels client → server.
struct BackToBack {
    var clientEvents: [GatewayTLSOutput.Event] = []
    var serverEvents: [GatewayTLSOutput.Event] = []

    mutating func run(
        client: (([UInt8]) -> GatewayTLSOutput),
        server: (([UInt8]) -> GatewayTLSOutput),
        firstFromClient: [UInt8],
        tamperClientToServer: ([UInt8]) -> [UInt8] = { $0 }
    ) {
        var toServer = firstFromClient
        var rounds = 0
        while !toServer.isEmpty && rounds < 50 {
            rounds += 1
            let fromServer = server(tamperClientToServer(toServer))
            self.serverEvents += fromServer.events
            toServer = []
            if !fromServer.ciphertext.isEmpty {
                let fromClient = client(fromServer.ciphertext)
                self.clientEvents += fromClient.events
                toServer = fromClient.ciphertext
            }
        }
    }

    var serverFailure: GatewayTLSError? { Self.failure(in: self.serverEvents) }
    var clientFailure: GatewayTLSError? { Self.failure(in: self.clientEvents) }
    var serverPeer: TLSPeer? { Self.peer(in: self.serverEvents) }
    var clientPeer: TLSPeer? { Self.peer(in: self.clientEvents) }

    static func failure(in events: [GatewayTLSOutput.Event]) -> GatewayTLSError? {
        for case .failed(let error) in events { return error }
        return nil
    }

    static func peer(in events: [GatewayTLSOutput.Event]) -> TLSPeer? {
        for case .established(let peer) in events { return peer }
        return nil
    }
}

/// Runs a full handshake between two OpenSSL-engine connections.
func handshake(
    client: GatewayTLSConnection,
    server: GatewayTLSConnection,
    tamper: ([UInt8]) -> [UInt8] = { $0 }
) -> BackToBack {
    var run = BackToBack()
    let hello = client.start()
    run.clientEvents += hello.events
    run.run(client: client.feed, server: server.feed, firstFromClient: hello.ciphertext, tamperClientToServer: tamper)
    return run
}
