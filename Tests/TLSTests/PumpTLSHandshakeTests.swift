import Foundation
import MedTunnelTestSupport
import PumpTLS
import Testing

@Suite("PumpTLS handshakes against openssl s_server", .offThePool)
struct PumpTLSHandshakeTests {
    @Test(
        "full handshake and application data both ways with each suite",
        .timeLimit(.minutes(1)),
        arguments: PumpTLSCipherSuite.allCases
    )
    func fullHandshake(suite: PumpTLSCipherSuite) throws {
        try withEstablishedPump(arguments: ["-tls1_2", "-cipher", suite.openSSLName]) { tls, socket, server in
            #expect(tls.negotiatedCipherSuite == suite)
            #expect(tls.peerCommonName == PumpTLSTestPKI.gatewayName)
            #expect(!tls.isResumed)
            #expect(tls.maxOutboundFragmentLength == 4096)
            #expect(server.waitForOutput(containing: "CIPHER is \(suite.openSSLName)"))

            try tls.write(plaintext: Array("hello from pump \(suite.openSSLName)\n".utf8))
            flush(tls, socket)
            #expect(server.waitForOutput(containing: "hello from pump \(suite.openSSLName)"))

            server.send("hello from gateway\n")
            #expect(receivePlaintext(tls, socket, containing: "hello from gateway\n") == "hello from gateway\n")
        }
    }

    @Test("session-id resumption: the gateway reuses the session, with less on the wire", .timeLimit(.minutes(1)))
    func resumption() throws {
        try withGateway(arguments: ["-tls1_2", "-www"]) { pki, server in
            let configuration = try pki.configuration()
            let first = try PumpTLSConnection(configuration: configuration, serverName: PumpTLSTestPKI.gatewayName)
            let firstSocket = try PumpTLSTestSocket(port: server.port)
            var full = PumpTLSWireCount()
            handshake(first, firstSocket, count: &full)
            try #require(first.state == .established, "\(first.state)\n\(server.output)")
            let session = try first.exportSession()
            #expect(session.sessionID.count == 32)
            try first.write(plaintext: Array("GET / HTTP/1.0\r\n\r\n".utf8))
            let firstPage = receivePlaintext(first, firstSocket, containing: "</HTML>")
            #expect(firstPage.contains("New, TLSv1.2, Cipher is"))
            // s_server -www ends each page with close_notify: the engine honours it.
            var count = PumpTLSWireCount()
            drive(first, firstSocket, count: &count) { $0.peerSentCloseNotify }
            #expect(first.state == .closed)
            #expect(first.peerSentCloseNotify)

            let second = try PumpTLSConnection(
                configuration: configuration,
                serverName: PumpTLSTestPKI.gatewayName,
                resuming: session
            )
            let secondSocket = try PumpTLSTestSocket(port: server.port)
            var resumed = PumpTLSWireCount()
            handshake(second, secondSocket, count: &resumed)
            try #require(second.state == .established, "\(second.state)\n\(server.output)")
            #expect(second.isResumed)
            #expect(second.negotiatedCipherSuite == first.negotiatedCipherSuite)
            #expect(second.peerCommonName == PumpTLSTestPKI.gatewayName)
            try second.write(plaintext: Array("GET / HTTP/1.0\r\n\r\n".utf8))
            let secondPage = receivePlaintext(second, secondSocket, containing: "</HTML>")
            #expect(secondPage.contains("Reused, TLSv1.2, Cipher is"))
            #expect(resumed.sent < full.sent / 2)
            #expect(resumed.received < full.received / 2)
        }
    }

    @Test("a session the gateway no longer knows falls back to a full handshake", .timeLimit(.minutes(1)))
    func resumptionRefusedFallsBack() throws {
        let pki = try PumpTLSTestPKI.create()
        defer { pki.remove() }
        let configuration = try pki.configuration()
        var session: PumpTLSSession?
        do {
            let server = try OpenSSLTestServer(pki: pki, arguments: ["-tls1_2"])
            defer { server.stop() }
            let tls = try PumpTLSConnection(configuration: configuration, serverName: PumpTLSTestPKI.gatewayName)
            let socket = try PumpTLSTestSocket(port: server.port)
            handshake(tls, socket)
            try #require(tls.state == .established)
            session = try tls.exportSession()
        }
        // A restarted gateway has an empty session cache.
        let server = try OpenSSLTestServer(pki: pki, arguments: ["-tls1_2"])
        defer { server.stop() }
        let tls = try PumpTLSConnection(
            configuration: configuration,
            serverName: PumpTLSTestPKI.gatewayName,
            resuming: session
        )
        let socket = try PumpTLSTestSocket(port: server.port)
        handshake(tls, socket)
        #expect(tls.state == .established)
        #expect(!tls.isResumed)
        #expect(tls.peerCommonName == PumpTLSTestPKI.gatewayName)
    }

    @Test("max_fragment_length 2048 is honoured by OpenSSL both ways", .timeLimit(.minutes(1)))
    func maxFragmentLength() throws {
        try withEstablishedPump(maxFragmentLength: .bytes2048) { tls, socket, server in
            #expect(tls.maxOutboundFragmentLength == 2048)
            let aeadExpansion = 8 + 16  // GCM explicit nonce + tag

            // Pump to gateway: 6000 bytes leave as records of at most 2048 plaintext bytes.
            let line = String(repeating: "p", count: 6000)
            try tls.write(plaintext: Array((line + "\n").utf8))
            var outbound = tls.takeOutbound()
            socket.send(outbound)
            var records = 0
            while !outbound.isEmpty {
                let length = Int(outbound[3]) << 8 | Int(outbound[4])
                #expect(length <= 2048 + aeadExpansion)
                outbound.removeFirst(5 + length)
                records += 1
            }
            #expect(records >= 3)
            #expect(server.waitForOutput(containing: line))

            // Gateway to pump: OpenSSL fragments to 2048 too.
            server.send(String(repeating: "g", count: 6000) + "\n")
            var pending: [UInt8] = []
            var plaintext: [UInt8] = []
            while plaintext.count < 6001, let record = socket.receiveRecord(&pending) {
                #expect(record[0] == 23)
                #expect(record.count - 5 <= 2048 + aeadExpansion)
                tls.feed(ciphertext: record)
                plaintext += tls.readPlaintext()
            }
            #expect(plaintext == Array((String(repeating: "g", count: 6000) + "\n").utf8))
        }
    }
}
