import GatewayTLS
import MedTunnelIdentity
import MedTunnelPKI
import PumpTLS
import Synchronization
import Testing

/// The real pair: the pump's mbedTLS engine against the gateway's OpenSSL engine, back to
/// back in memory, no sockets.
struct PumpGatewayPair {
    var serverEvents: [GatewayTLSOutput.Event] = []
    var bytesFromPump = 0
    var bytesFromGateway = 0

    var serverPeer: TLSPeer? { BackToBack.peer(in: self.serverEvents) }
    var serverFailure: GatewayTLSError? { BackToBack.failure(in: self.serverEvents) }

    static func handshake(_ pump: PumpTLSConnection, _ gateway: GatewayTLSConnection) -> PumpGatewayPair {
        var pair = PumpGatewayPair()
        pump.startHandshake()
        var up = pump.takeOutbound()
        for _ in 0..<20 where !up.isEmpty {
            pair.bytesFromPump += up.count
            let out = gateway.feed(up)
            pair.serverEvents += out.events
            pair.bytesFromGateway += out.ciphertext.count
            guard !out.ciphertext.isEmpty else { break }
            pump.feed(ciphertext: out.ciphertext)
            up = pump.takeOutbound()
        }
        return pair
    }
}

@Suite("mbedTLS pump engine against the OpenSSL gateway engine, in memory")
struct PumpToGatewayTests {
    let fixtures = TLSFixtures.shared

    func pumpConfiguration(
        _ credential: IssuedCredential? = nil,
        trusting caPEM: String? = nil,
        suites: [PumpTLSCipherSuite] = PumpTLSCipherSuite.allCases
    ) throws -> PumpTLSConfiguration {
        let credential = credential ?? self.fixtures.pump
        return try PumpTLSConfiguration(
            trustedCAPEM: caPEM ?? self.fixtures.caPEM,
            certificatePEM: credential.certificatePEM,
            privateKeyPEM: credential.privateKeyPEM,
            cipherSuites: suites
        )
    }

    func gatewayContext(
        isRevoked: @escaping @Sendable (DeviceIdentity) -> Bool = { _ in false }
    ) throws
        -> GatewayTLSContext
    {
        try GatewayTLSContext(self.fixtures.pumpServerConfiguration(), isRevoked: isRevoked)
    }

    @Test("full handshake with each suite, then application data both ways", arguments: PumpTLSCipherSuite.allCases)
    func fullHandshake(suite: PumpTLSCipherSuite) throws {

        let pump = try PumpTLSConnection(
            configuration: try self.pumpConfiguration(suites: [suite]),
            serverName: "localhost"
        )
        let gateway = try GatewayTLSConnection(context: try self.gatewayContext())
        let pair = PumpGatewayPair.handshake(pump, gateway)
        #expect(pump.state == .established)
        let peer = try #require(pair.serverPeer)
        #expect(peer.identity == .pump(serial: TLSFixtures.pumpSerial))
        #expect(peer.cipherSuite == suite.openSSLName)
        #expect(peer.resumed == false)

        try pump.write(plaintext: Array("telemetry".utf8))
        #expect(gateway.feed(pump.takeOutbound()).plaintext == Array("telemetry".utf8))
        pump.feed(ciphertext: gateway.send(Array("stored".utf8)).ciphertext)
        #expect(pump.readPlaintext() == Array("stored".utf8))
    }

    @Test("the pump resumes its session on reconnect and the gateway confirms it")
    func resumption() throws {
        let configuration = try self.pumpConfiguration()
        let context = try self.gatewayContext()
        let first = try PumpTLSConnection(configuration: configuration, serverName: "localhost")
        let full = PumpGatewayPair.handshake(first, try GatewayTLSConnection(context: context))
        #expect(full.serverPeer?.resumed == false)
        let session = try first.exportSession()
        // The link drops here, without close_notify: the session must survive that.

        let second = try PumpTLSConnection(configuration: configuration, serverName: "localhost", resuming: session)
        let gateway = try GatewayTLSConnection(context: context)
        let resumed = PumpGatewayPair.handshake(second, gateway)
        #expect(second.state == .established)
        #expect(second.isResumed)
        #expect(resumed.serverPeer?.resumed == true)
        #expect(resumed.serverPeer?.identity == .pump(serial: TLSFixtures.pumpSerial))
        #expect(context.sessionCacheStatistics.hits >= 1)
        #expect(resumed.bytesFromPump < full.bytesFromPump)
        try second.write(plaintext: [1, 2, 3])
        #expect(gateway.feed(second.takeOutbound()).plaintext == [1, 2, 3])
    }

    @Test("a revoked pump cannot resume an earlier session")
    func revokedOnResumption() throws {
        let revoked = RevokedSet()
        let configuration = try self.pumpConfiguration()
        let context = try self.gatewayContext(isRevoked: { revoked.contains($0) })
        let first = try PumpTLSConnection(configuration: configuration, serverName: "localhost")
        #expect(PumpGatewayPair.handshake(first, try GatewayTLSConnection(context: context)).serverPeer != nil)
        let session = try first.exportSession()

        revoked.insert(.pump(serial: TLSFixtures.pumpSerial))
        let second = try PumpTLSConnection(configuration: configuration, serverName: "localhost", resuming: session)
        let pair = PumpGatewayPair.handshake(second, try GatewayTLSConnection(context: context))
        #expect(pair.serverFailure?.code == .certificateRevoked)
        #expect(pair.serverPeer == nil)
        guard case .failed = second.state else {
            Issue.record("the pump should see the refusal, got \(second.state)")
            return
        }
    }

    @Test("a revoked pump is refused on a full handshake")
    func revokedFull() throws {
        let pump = try PumpTLSConnection(configuration: try self.pumpConfiguration(), serverName: "localhost")
        let gateway = try GatewayTLSConnection(context: try self.gatewayContext(isRevoked: { _ in true }))
        let pair = PumpGatewayPair.handshake(pump, gateway)
        #expect(pair.serverFailure?.code == .certificateRevoked)
    }

    @Test("the pump refuses a gateway certificate from another CA")
    func foreignGateway() throws {
        var configuration = self.fixtures.pumpServerConfiguration()
        configuration.certificateChainPEM = self.fixtures.foreignGateway.certificatePEM
        configuration.privateKeyPEM = self.fixtures.foreignGateway.privateKeyPEM
        let gateway = try GatewayTLSConnection(context: try GatewayTLSContext(configuration))
        let pump = try PumpTLSConnection(configuration: try self.pumpConfiguration(), serverName: "localhost")
        let pair = PumpGatewayPair.handshake(pump, gateway)
        guard case .failed(let error) = pump.state else {
            Issue.record("the pump accepted a foreign gateway: \(pump.state)")
            return
        }
        #expect(error.code == .peerCertificateUntrusted)
        #expect(pair.serverPeer == nil)
    }

    @Test("a pump certificate from another CA is refused by the gateway")
    func foreignPump() throws {
        let pump = try PumpTLSConnection(
            configuration: try self.pumpConfiguration(self.fixtures.foreignPump),
            serverName: "localhost"
        )
        let gateway = try GatewayTLSConnection(context: try self.gatewayContext())
        let pair = PumpGatewayPair.handshake(pump, gateway)
        #expect(pair.serverFailure?.code == .certificateRejected)
    }

    @Test("a bit flipped by the relay in a pump record ends the session with nothing delivered")
    func flippedBitFromPump() throws {
        let pump = try PumpTLSConnection(configuration: try self.pumpConfiguration(), serverName: "localhost")
        let gateway = try GatewayTLSConnection(context: try self.gatewayContext())
        #expect(PumpGatewayPair.handshake(pump, gateway).serverPeer != nil)
        try pump.write(plaintext: Array("bolus".utf8))
        var record = pump.takeOutbound()
        record[record.count - 3] ^= 0x01
        let out = gateway.feed(record)
        #expect(out.plaintext.isEmpty)
        #expect(out.failure?.code == .recordRejected)
    }

    @Test("a bit flipped by the relay in a gateway record is fatal at the pump")
    func flippedBitFromGateway() throws {
        let pump = try PumpTLSConnection(configuration: try self.pumpConfiguration(), serverName: "localhost")
        let gateway = try GatewayTLSConnection(context: try self.gatewayContext())
        #expect(PumpGatewayPair.handshake(pump, gateway).serverPeer != nil)
        var record = gateway.send(Array("command".utf8)).ciphertext
        record[record.count - 1] ^= 0x80
        pump.feed(ciphertext: record)
        #expect(pump.readPlaintext().isEmpty)
        guard case .failed(let error) = pump.state else {
            Issue.record("expected failure, got \(pump.state)")
            return
        }
        #expect(error.code == .badRecordMAC)
    }
}

/// A thread-safe set for revocation in tests.
final class RevokedSet: Sendable {
    private let storage = Locked<Set<DeviceIdentity>>([])
    func insert(_ identity: DeviceIdentity) { self.storage.withLock { _ = $0.insert(identity) } }
    func contains(_ identity: DeviceIdentity) -> Bool { self.storage.withLock { $0.contains(identity) } }
}

final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { self.mutex = Mutex(value) }
    func withLock<R>(_ body: (inout Value) -> R) -> R { self.mutex.withLock { body(&$0) } }
}
