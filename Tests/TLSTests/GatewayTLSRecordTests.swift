import GatewayTLS
import MedTunnelIdentity
import Testing

@Suite("Gateway TLS engine: tampered records are fatal and deliver nothing")
struct GatewayTLSRecordTests {
    let fixtures = TLSFixtures.shared

    /// An established pair plus one application record from the client.
    func establishedPair() throws -> (client: GatewayTLSConnection, server: GatewayTLSConnection) {
        let serverContext = try GatewayTLSContext(self.fixtures.pumpServerConfiguration())
        let client = try GatewayTLSConnection(
            context: try GatewayTLSContext(self.fixtures.openSSLPumpClient(self.fixtures.pump))
        )
        let server = try GatewayTLSConnection(context: serverContext)
        let run = handshake(client: client, server: server)
        try #require(run.serverPeer != nil)
        return (client, server)
    }

    static let secret = Array("bolus 1500 mU".utf8)

    @Test(
        "a record with one flipped bit ends the session and delivers no plaintext",
        arguments: [0, 1, 2, 3, 4, 5, 13, 20, 33]
    )
    func flippedBit(offset: Int) throws {
        let (client, server) = try self.establishedPair()
        var record = client.send(Self.secret).ciphertext
        try #require(offset < record.count)
        record[offset] ^= 0x04
        let output = server.feed(record)
        #expect(output.plaintext.isEmpty)
        if offset == 3 || offset == 4 {
            // A flipped length bit makes the record look longer: the engine waits for bytes
            // that never come, and the end of the transport is then a truncation.
            let final = output.failure ?? server.transportClosed().failure
            #expect(final?.code == .recordRejected || final?.code == .truncated)
        } else {
            // Content type, version or the AEAD-protected body: rejected at once.
            #expect(output.failure?.code == .recordRejected)
        }
        #expect(server.send([0]).failure?.code == .closed)
    }

    @Test("a truncated record delivers nothing, and the transport ending there is a truncation")
    func truncatedRecord() throws {
        let (client, server) = try self.establishedPair()
        let record = client.send(Self.secret).ciphertext
        for cut in 1..<record.count {
            let (client2, server2) = try self.establishedPair()
            _ = client2
            let output = server2.feed(Array(record[0..<cut]))
            #expect(output.plaintext.isEmpty)
            #expect(output.failure == nil)
            #expect(server2.transportClosed().failure?.code == .truncated)
        }
        _ = server
    }

    @Test("a record from another session is fatal to this one")
    func recordFromAnotherSession() throws {
        let (clientA, _) = try self.establishedPair()
        let (_, serverB) = try self.establishedPair()
        let foreign = clientA.send(Self.secret).ciphertext
        let output = serverB.feed(foreign)
        #expect(output.plaintext.isEmpty)
        #expect(output.failure?.code == .recordRejected)
    }

    @Test("a replayed record is fatal (sequence numbers are implicit in the AEAD nonce)")
    func replayedRecord() throws {
        let (client, server) = try self.establishedPair()
        let record = client.send(Self.secret).ciphertext
        #expect(server.feed(record).plaintext == Self.secret)
        let replay = server.feed(record)
        #expect(replay.plaintext.isEmpty)
        #expect(replay.failure?.code == .recordRejected)
    }

    @Test("close_notify is sent and honoured")
    func closeNotify() throws {
        let (client, server) = try self.establishedPair()
        let bye = client.close()
        #expect(!bye.ciphertext.isEmpty)
        let output = server.feed(bye.ciphertext)
        #expect(output.events.contains(.closedByPeer))
        #expect(!output.ciphertext.isEmpty)  // the gateway's own close_notify
        #expect(server.state == .closed)
        #expect(server.transportClosed().failure == nil)
    }

    @Test("a flood behind a forged record header ends the session at that record, delivering nothing")
    func bufferCap() throws {
        let (_, server) = try self.establishedPair()
        // A header announcing a 16 KiB application record, then far more bytes than any record.
        var flood: [UInt8] = [23, 3, 3, 0x40, 0x00]
        flood += [UInt8](repeating: 0xAA, count: 200_000)
        let output = server.feed(flood)
        #expect(output.plaintext.isEmpty)
        #expect(output.failure?.code == .recordRejected, "\(String(describing: output.failure))")
    }

    @Test("a handshake that does not finish in time is aborted")
    func handshakeTimeout() throws {
        let server = try GatewayTLSConnection(context: try GatewayTLSContext(self.fixtures.pumpServerConfiguration()))
        #expect(server.handshakeTimedOut().failure?.code == .handshakeTimeout)
        #expect(server.state != .handshaking)
    }
}
