import ArgumentParser
import Foundation
import Gateway
import MedTunnelIdentity
import MedTunnelPKI
import NIOPosix
import PumpSimulator
import PumpTLS

struct PumpSimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pump-sim",
        abstract: "Run a simulated pump (mbedTLS, the pump firmware profile) against a gateway."
    )

    @Option(help: "The PKI directory.") var pki: String
    @Option(help: "The pump serial (its certificate is DIR/pumps/SERIAL.pem).") var serial: String
    @Option(help: "HOST:PORT of the gateway's pump listener.") var connect: String
    @Option(help: "Telemetry messages per connection.") var telemetry = 3
    @Option(help: "Milliseconds between telemetry messages.") var interval: Int64 = 0
    @Option(help: "How many times to connect; every connection after the first resumes the TLS session.")
    var connections = 1
    @Option(name: .customLong("server-name"), help: "The gateway host name to verify.") var serverName = "localhost"
    @Flag(help: "Issue the pump's certificate into the PKI directory first if it is missing.") var issue = false
    @Flag(name: .customLong("no-resume"), help: "Always run a full handshake (for benchmarks).") var noResume = false
    @OptionGroup var commands: PumpStateOptions

    func run() async throws {
        guard let gateway = HostPort(self.connect) else {
            throw ValidationError("--connect '\(self.connect)' is not HOST:PORT")
        }
        let directory = PKIDirectory(self.pki)
        let identity = DeviceIdentity.pump(serial: self.serial)
        if self.issue { try PKIOperations.issue(identity, in: directory) }
        let configuration = try PumpTLSConfiguration(
            trustedCAPEM: try String(contentsOf: directory.caCertificate, encoding: .utf8),
            certificatePEM: try String(contentsOf: directory.certificate(for: identity), encoding: .utf8),
            privateKeyPEM: try String(contentsOf: directory.key(for: identity), encoding: .utf8)
        )
        let pump = SimulatedPump(serial: self.serial, configuration: configuration, serverName: self.serverName)
        pump.runtime = try self.commands.runtime(serial: self.serial, pki: directory)
        var sequence: UInt64 = 1
        for index in 1...max(1, self.connections) {
            if self.noResume { pump.forgetSession() }
            let report = try await pump.runSession(
                host: gateway.host,
                port: gateway.port,
                telemetryCount: self.telemetry,
                intervalMilliseconds: self.interval,
                firstTelemetrySequence: sequence,
                group: MultiThreadedEventLoopGroup.singleton
            )
            sequence += UInt64(self.telemetry)
            let ms = Double(report.handshakeNanoseconds) / 1e6
            print(
                "pump \(self.serial) connection \(index): handshake \(report.resumed ? "resumed" : "full") "
                    + "\(String(format: "%.2f", ms)) ms, \(report.cipherSuite ?? "?"), "
                    + "telemetry acknowledged \(report.telemetryAcknowledged)/\(self.telemetry), "
                    + "bytes sent \(report.bytesSent) received \(report.bytesReceived)"
            )
        }
    }
}
