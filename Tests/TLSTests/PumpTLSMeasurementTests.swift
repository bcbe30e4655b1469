import Foundation
import MedTunnelTestSupport
import PumpTLS
import Testing

/// Handshake cost on the wire, full vs session-id resumption, against openssl s_server.
/// Prints medians; set PUMPTLS_MEASURE_ITERATIONS (default 5) for a real measurement, and
/// build with `-c release` for meaningful times (bytes do not depend on the build).
@Suite("PumpTLS measurement", .offThePool)
struct PumpTLSMeasurementTests {
    private struct Sample {
        var sent: Int
        var received: Int
        var wall: Duration
    }

    private func connect(
        _ configuration: PumpTLSConfiguration,
        _ server: OpenSSLTestServer,
        resuming session: PumpTLSSession?
    ) throws -> (Sample, PumpTLSConnection) {
        let socket = try PumpTLSTestSocket(port: server.port)
        let tls = try PumpTLSConnection(
            configuration: configuration,
            serverName: PumpTLSTestPKI.gatewayName,
            resuming: session
        )
        var count = PumpTLSWireCount()
        let start = ContinuousClock.now
        handshake(tls, socket, count: &count)
        let wall = ContinuousClock.now - start
        try #require(tls.state == .established, "\(tls.state)")
        #expect(tls.isResumed == (session != nil))
        // Close cleanly so s_server accepts the next connection.
        tls.close()
        var closing = PumpTLSWireCount()
        drive(tls, socket, count: &closing) { $0.peerSentCloseNotify }
        return (Sample(sent: count.sent, received: count.received, wall: wall), tls)
    }

    @Test("handshake bytes each way, full vs resumed", .timeLimit(.minutes(5)))
    func handshakeBytes() throws {
        let iterations = ProcessInfo.processInfo.environment["PUMPTLS_MEASURE_ITERATIONS"].flatMap { Int($0) } ?? 5
        try withGateway(arguments: ["-tls1_2"]) { pki, server in
            let configuration = try pki.configuration()
            var full: [Sample] = []
            var resumed: [Sample] = []
            var session: PumpTLSSession?
            for _ in 0..<iterations {
                let (sample, tls) = try self.connect(configuration, server, resuming: nil)
                full.append(sample)
                session = try tls.exportSession()
            }
            for _ in 0..<iterations {
                let (sample, _) = try self.connect(configuration, server, resuming: session)
                resumed.append(sample)
            }
            func median<T: Comparable>(_ values: [T]) -> T { values.sorted()[values.count / 2] }
            let report = """
                PumpTLS handshake (pump = mbedTLS client, s_server = OpenSSL 3, \(iterations) each, medians):
                  full:    pump->gateway \(median(full.map(\.sent))) B, gateway->pump \(median(full.map(\.received))) B, \
                wall \(median(full.map(\.wall)))
                  resumed: pump->gateway \(median(resumed.map(\.sent))) B, gateway->pump \(median(resumed.map(\.received))) B, \
                wall \(median(resumed.map(\.wall)))
                """
            print(report)
            #expect(median(resumed.map(\.sent)) < median(full.map(\.sent)))
            #expect(median(resumed.map(\.received)) < median(full.map(\.received)))
        }
    }
}
