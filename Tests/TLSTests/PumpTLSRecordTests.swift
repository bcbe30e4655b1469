import Foundation
import MedTunnelTestSupport
import PumpTLS
import Testing

/// Hostile-link cases on established sessions: nothing altered or cut off is delivered.
@Suite("PumpTLS records and closure", .offThePool)
struct PumpTLSRecordTests {
    /// An established connection, and one application-data record the gateway sent after it.
    private func withRecordFromGateway(
        _ body: (PumpTLSConnection, PumpTLSTestSocket, [UInt8]) throws -> Void
    ) throws {
        try withEstablishedPump(arguments: ["-tls1_2"]) { tls, socket, server in
            server.send("bolus 1500 mU\n")
            var pending: [UInt8] = []
            let record = try #require(socket.receiveRecord(&pending))
            #expect(record[0] == 23)  // application_data
            #expect(pending.isEmpty)
            try body(tls, socket, record)
        }
    }

    @Test("a flipped bit in an inbound record is bad_record_mac and delivers nothing", .timeLimit(.minutes(1)))
    func flippedBit() throws {
        try self.withRecordFromGateway { tls, _, record in
            var tampered = record
            tampered[tampered.count - 1] ^= 0x01  // in the AEAD tag
            tls.feed(ciphertext: tampered)
            #expect(tls.state.failure == .badRecordMAC, "\(tls.state)")
            #expect(tls.readPlaintext().isEmpty)
            let alert = tls.takeOutbound()
            #expect(alert.first == 21)  // the fatal bad_record_mac alert for the gateway
            // The untampered record is no longer accepted either: the session is dead.
            tls.feed(ciphertext: record)
            #expect(tls.readPlaintext().isEmpty)
            #expect(tls.state.failure == .badRecordMAC)
        }
    }

    @Test("a flipped bit in the ciphertext body is bad_record_mac too", .timeLimit(.minutes(1)))
    func flippedBitInBody() throws {
        try self.withRecordFromGateway { tls, _, record in
            var tampered = record
            tampered[5 + 8 + 2] ^= 0x80  // past the header and the explicit nonce
            tls.feed(ciphertext: tampered)
            #expect(tls.state.failure == .badRecordMAC, "\(tls.state)")
            #expect(tls.readPlaintext().isEmpty)
        }
    }

    @Test(
        "a truncated record delivers nothing, and the link closing then is a truncation error",
        .timeLimit(.minutes(1))
    )
    func truncatedRecord() throws {
        try self.withRecordFromGateway { tls, _, record in
            tls.feed(ciphertext: Array(record.dropLast()))
            #expect(tls.state == .established)
            #expect(tls.readPlaintext().isEmpty)
            tls.transportClosed()
            #expect(tls.state.failure == .truncated)
            #expect(tls.readPlaintext().isEmpty)
        }
    }

    /// Regression: a record split across reads whose first ciphertext byte is 0 (where mbedTLS
    /// keeps the last message's type) was taken for a HelloRequest: 1 in 256 split records
    /// ended a healthy session as `renegotiationRefused`.
    @Test(
        "a record arriving in pieces is never mistaken for a renegotiation request, whatever its first byte",
        .timeLimit(.minutes(1))
    )
    func splitRecordIsNotHelloRequest() throws {
        try self.withRecordFromGateway { tls, _, record in
            var zeroed = record
            zeroed[5 + 8] = 0  // past the header and the explicit nonce: the first ciphertext byte
            tls.feed(ciphertext: Array(zeroed.prefix(20)))
            #expect(tls.state == .established, "\(tls.state)")
            #expect(tls.takeOutbound().isEmpty)  // no alert of any kind
            tls.transportClosed()
            #expect(tls.state.failure == .truncated, "\(tls.state)")
        }
    }

    @Test("the intact record is delivered (control for the tampering tests)", .timeLimit(.minutes(1)))
    func intactRecord() throws {
        try self.withRecordFromGateway { tls, _, record in
            tls.feed(ciphertext: record)
            #expect(String(decoding: tls.readPlaintext(), as: UTF8.self) == "bolus 1500 mU\n")
        }
    }

    @Test("close_notify from the pump: the gateway sees it and answers with its own", .timeLimit(.minutes(1)))
    func pumpCloses() throws {
        try withEstablishedPump(arguments: ["-tls1_2"]) { tls, socket, server in
            tls.close()
            #expect(tls.state == .closed)
            let closeNotify = tls.takeOutbound()
            #expect(closeNotify.first == 21)  // an alert record
            socket.send(closeNotify)
            #expect(server.waitForOutput(containing: "DONE"))
            var count = PumpTLSWireCount()
            #expect(drive(tls, socket, count: &count) { $0.peerSentCloseNotify })
            #expect(tls.state == .closed)
            do throws(PumpTLSError) {
                try tls.write(plaintext: [1])
                Issue.record("write after close was accepted")
            } catch {
                #expect(error.code == .closed)
            }
        }
    }

    @Test("close_notify from the gateway: the pump answers and keeps what it received", .timeLimit(.minutes(1)))
    func gatewayCloses() throws {
        try withEstablishedPump(arguments: ["-tls1_2", "-www"]) { tls, socket, server in
            try tls.write(plaintext: Array("GET / HTTP/1.0\r\n\r\n".utf8))
            flush(tls, socket)
            var count = PumpTLSWireCount()
            var page: [UInt8] = []
            #expect(
                drive(tls, socket, count: &count) {
                    page += $0.readPlaintext()
                    return $0.peerSentCloseNotify
                }
            )
            page += tls.readPlaintext()
            #expect(tls.state == .closed)
            #expect(String(decoding: page, as: UTF8.self).contains("</HTML>"))
            #expect(tls.takeOutbound().isEmpty)  // our close_notify reply was sent by drive()
            do throws(PumpTLSError) {
                try tls.write(plaintext: [1])
                Issue.record("write after the gateway's close_notify was accepted")
            } catch {
                #expect(error.code == .peerClosed)
            }
        }
    }

    @Test("a reader that never reads hits the buffer cap as a typed error", .timeLimit(.minutes(1)))
    func bufferCap() throws {
        try withEstablishedPump(arguments: ["-tls1_2"]) { tls, socket, server in
            let line = String(repeating: "x", count: 999) + "\n"
            server.send(String(repeating: line, count: 160))  // 160 KB, never read by the pump
            var count = PumpTLSWireCount()
            drive(tls, socket, count: &count) { $0.state != .established }
            #expect(tls.state.failure == .inboundBufferFull)
            #expect(tls.readPlaintext().isEmpty)
        }
    }

    @Test("a renegotiation request from the gateway ends the session", .timeLimit(.minutes(1)))
    func renegotiationRefused() throws {
        try withEstablishedPump { tls, socket, server in
            server.send("r\n")  // s_server: SSL_renegotiate, sends HelloRequest
            var count = PumpTLSWireCount()
            drive(tls, socket, count: &count) { $0.state != .established }
            #expect(tls.state.failure == .renegotiationRefused, "\(tls.state)\n\(server.output)")
            #expect(tls.readPlaintext().isEmpty)
        }
    }

    @Test("a replayed record and a record from another session are bad_record_mac", .timeLimit(.minutes(1)))
    func replayedAndSplicedRecords() throws {
        try withGateway(arguments: ["-tls1_2"]) { pki, server in
            let configuration = try pki.configuration()
            func sessionWithRecord() throws -> (PumpTLSConnection, PumpTLSTestSocket, [UInt8]) {
                let tls = try PumpTLSConnection(configuration: configuration, serverName: PumpTLSTestPKI.gatewayName)
                let socket = try PumpTLSTestSocket(port: server.port)
                handshake(tls, socket)
                try #require(tls.state == .established, "\(tls.state)\n\(server.output)")
                server.send("temp basal 800 mU/h\n")
                var pending: [UInt8] = []
                return (tls, socket, try #require(socket.receiveRecord(&pending)))
            }
            // Session A: the record is delivered once; its replay is refused.
            let (first, firstSocket, record) = try sessionWithRecord()
            first.feed(ciphertext: record)
            #expect(String(decoding: first.readPlaintext(), as: UTF8.self) == "temp basal 800 mU/h\n")
            first.feed(ciphertext: record)
            #expect(first.state.failure == .badRecordMAC, "\(first.state)")
            #expect(first.readPlaintext().isEmpty)
            flush(first, firstSocket)  // the alert ends session A at s_server too

            // Session B: A's record spliced in is refused; B's own record would have been accepted.
            let (second, _, _) = try sessionWithRecord()
            second.feed(ciphertext: record)
            #expect(second.state.failure == .badRecordMAC, "\(second.state)")
            #expect(second.readPlaintext().isEmpty)
        }
    }
}
