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
        abstract:
            "Run simulated pumps (mbedTLS, the pump firmware profile) against a gateway or through a phone relay.",
        discussion: """
            Each pump keeps its identity in --state-dir DIR: DIR/SERIAL.key (P-256, 0600, born there, never \
            exported), DIR/SERIAL.pem, DIR/ca.pem, DIR/command.pem, and its command state DIR/SERIAL.state. \
            Enroll: --csr FILE, then `pki sign-pump`, then --install CERT --trust PKI/gateway; or, for the \
            simulator, --enroll-with PKI (in-process; missing pumps only). \
            One pump: --serial S, with --connections sessions of --telemetry messages each. \
            Many pumps: --count N (serials PREFIX-0001…), each keeping a session open, sending telemetry every \
            --interval and reconnecting with backoff and session resumption when its link drops.
            """
    )

    @Option(help: "One pump's serial (its key and certificate are STATE-DIR/SERIAL.key and .pem).") var serial: String?
    @Option(help: "Run this many pumps in one process (serials PREFIX-0001…).") var count: Int?
    @Option(name: .customLong("serial-prefix"), help: "The serial prefix for --count.") var serialPrefix = "PUMP"
    @Option(help: "HOST:PORT of the gateway's pump listener (pumps connect directly).") var connect: String?
    @Option(help: "HOST:PORT of a phone relay's pump listener (pumps connect through the relay).") var relay: String?
    @Option(
        help: "Telemetry messages per connection (one pump), or per pump over all its sessions (--count; 0: no end)."
    )
    var telemetry: Int?
    @Option(
        help: ArgumentHelp(
            "Time between telemetry messages (50ms, 1s; default 0 for one pump, 1s for --count); "
                + "a bare number is milliseconds, as before.",
            valueName: "duration"
        )
    )
    var interval: String?
    @Option(help: "How many times to connect; every connection after the first resumes the TLS session.")
    var connections = 1
    @Option(name: .customLong("server-name"), help: "The gateway host name to verify.") var serverName = "localhost"
    @Option(
        help: ArgumentHelp(
            "Time between progress lines with --count (250ms, 5s; 0: none); a bare number is seconds, as before.",
            valueName: "duration"
        )
    )
    var progress = "5s"
    @Option(help: "The firmware version the pumps announce in their hello (lockouts by firmware match it).")
    var firmware = SimulatedPump.defaultFirmware
    @Option(
        name: .customLong("response-timeout"),
        help: ArgumentHelp(
            "How long a pump waits for an answer before sending again once, then reconnecting (--count); "
                + "a bare number is milliseconds, as before.",
            valueName: "duration"
        )
    )
    var responseTimeout = "5s"
    @Option(help: "Benchmark (one pump): instead of telemetry, N heartbeat round trips per connection; prints p50/p99.")
    var ping: Int?
    @Option(help: "Benchmark (one pump): instead of telemetry, send this many MiB per connection as fast as possible.")
    var bulk: Int?
    @OptionGroup var identity: PumpIdentityOptions
    @Flag(name: .customLong("no-resume"), help: "Always run a full handshake (for benchmarks).") var noResume = false
    @OptionGroup var commands: PumpStateOptions
    @OptionGroup var pairingCode: PumpPairingOptions
    @Flag(help: "With --count: a line per pump event (connected, lost, finished) even for many pumps.")
    var verbose = false

    func validate() throws {
        _ = try self.durations()
        guard (1...64).contains(self.firmware.utf8.count), self.firmware.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F })
        else {
            throw ValidationError("--firmware '\(self.firmware.prefix(80))' must be 1 to 64 printable ASCII characters")
        }
        try self.identity.validateRemovedOptions()
        guard self.commands.stateDirectory != nil else {
            throw ValidationError(
                "give --state-dir DIR: the pump's own storage, where its key is born (DIR/SERIAL.key) and its "
                    + "certificate, trust anchors and command state are kept"
            )
        }
        if self.identity.isProvisioningStep {
            guard self.serial != nil, self.count == nil else {
                throw ValidationError("--csr and --install work on one pump: give --serial SERIAL")
            }
            return
        }
        if (self.connect == nil) == (self.relay == nil) {
            throw ValidationError(
                "give exactly one of --connect HOST:PORT (the gateway) and --relay HOST:PORT (a phone relay)"
            )
        }
        if (self.serial == nil) == (self.count == nil) {
            throw ValidationError("give exactly one of --serial SERIAL (one pump) and --count N (many pumps)")
        }
        if self.count != nil, self.ping != nil || self.bulk != nil {
            throw ValidationError("--ping and --bulk run one pump (--serial), not --count")
        }
        if let count = self.count, !(1...100_000).contains(count) {
            throw ValidationError("--count \(count) must be from 1 to 100000")
        }
        try self.pairingCode.validate(serial: self.serial)
    }

    func run() async throws {
        if try self.identity.runProvisioningStep(serial: self.serial ?? "", stateDirectory: self.stateDirectory) {
            return
        }
        let text = self.connect ?? self.relay ?? ""
        guard let address = HostPort(text) else {
            throw ValidationError("--\(self.connect != nil ? "connect" : "relay") '\(text)' is not HOST:PORT")
        }
        if let count = self.count {
            try await self.runFleet(count: count, address: address)
            return
        }
        let pump = try self.pump(self.serial ?? "", activity: nil)
        let telemetry = self.telemetry ?? 3
        var sequence: UInt64 = 1
        for index in 1...max(1, self.connections) {
            if self.noResume { pump.forgetSession() }
            let report = try await pump.runSession(
                host: address.host,
                port: address.port,
                telemetryCount: telemetry,
                intervalMilliseconds: try self.durations().interval.map(Self.milliseconds) ?? 0,
                firstTelemetrySequence: sequence,
                group: MultiThreadedEventLoopGroup.singleton,
                benchmark: self.benchmark
            )
            sequence += UInt64(telemetry)
            let ms = Double(report.handshakeNanoseconds) / 1e6
            print(
                "pump \(pump.serial) connection \(index): handshake \(report.resumed ? "resumed" : "full") "
                    + "\(String(format: "%.2f", ms)) ms, \(report.cipherSuite ?? "?"), "
                    + "telemetry acknowledged \(report.telemetryAcknowledged)/\(self.benchmark == nil ? telemetry : 0), "
                    + "bytes sent \(report.bytesSent) received \(report.bytesReceived)"
                    + Self.benchmarkSummary(report)
            )
            fflush(nil)
        }
    }

    private var benchmark: PumpBenchmark? {
        if let ping = self.ping { return .ping(count: ping) }
        if let bulk = self.bulk { return .bulk(bytes: bulk * 1_048_576) }
        return nil
    }

    private static func benchmarkSummary(_ report: PumpSessionReport) -> String {
        if !report.roundTripNanoseconds.isEmpty {
            let sorted = report.roundTripNanoseconds.sorted()
            func percentile(_ p: Double) -> String {
                String(format: "%.1f", Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1_000)
            }
            return ", ping \(sorted.count) round trips p50 \(percentile(0.5)) us p99 \(percentile(0.99)) us"
        }
        if report.bulkBytes > 0 {
            let seconds = Double(report.bulkNanoseconds) / 1e9
            return ", bulk \(report.bulkBytes) bytes in \(String(format: "%.3f", seconds)) s "
                + "(\(String(format: "%.1f", Double(report.bulkBytes) / seconds / 1_048_576)) MiB/s)"
        }
        return ""
    }

    private var stateDirectory: String { self.commands.stateDirectory ?? "" }

    /// A simulated pump whose key, certificate and anchors are in its own storage (`--state-dir`),
    /// enrolled first with `--enroll-with`. Nothing is read from a PKI folder.
    private func pump(_ serial: String, activity: PumpActivity?) throws -> SimulatedPump {
        let store = DeviceStore(directory: self.stateDirectory, identity: .pump(serial: serial))
        if let root = self.identity.enrollWith {
            try store.enroll(
                with: PKILayout(root: root),
                model: try self.commands.model().name,
                firmware: self.firmware
            )
        }
        let credentials = try store.credentials()
        let configuration = try PumpTLSConfiguration(
            trustedCAPEM: credentials.caCertificatePEM,
            certificatePEM: credentials.certificatePEM,
            privateKeyPEM: credentials.privateKeyPEM
        )
        let pump = SimulatedPump(
            serial: serial,
            configuration: configuration,
            serverName: self.serverName,
            activity: activity
        )
        pump.runtime = try self.commands.runtime(serial: serial, credentials: credentials)
        pump.pairing = try self.pairingCode.pumpPairing(serial: serial, fleet: self.count != nil)
        pump.firmware = self.firmware
        return pump
    }

    private func runFleet(count: Int, address: HostPort) async throws {
        let activity = PumpActivity()
        let serials = PumpFleet.serials(prefix: self.serialPrefix, count: count)
        let started = ContinuousClock.now
        let pumps = try serials.map { try self.pump($0, activity: activity) }
        let telemetry = self.telemetry ?? 0
        var configuration = PumpFleet.Configuration(
            host: address.host,
            port: address.port,
            telemetryPerPump: telemetry > 0 ? telemetry : nil,
            intervalMilliseconds: try self.durations().interval.map(Self.milliseconds) ?? 1_000
        )
        configuration.responseTimeoutMilliseconds = Self.milliseconds(try self.durations().responseTimeout)
        let fleet = PumpFleet(pumps: pumps, configuration: configuration)
        let via = self.relay != nil ? "through the relay at \(address)" : "directly to the gateway at \(address)"
        Self.say(
            "pump-sim: \(count) pumps \(serials.first ?? "")…\(serials.last ?? "") \(via), "
                + "telemetry every \(configuration.intervalMilliseconds) ms"
                + (telemetry > 0 ? ", \(telemetry) each" : "")
                + " (identities ready in \(Self.seconds(ContinuousClock.now - started)) s)"
        )
        let perPump = self.verbose || count <= 10
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                await fleet.run(group: MultiThreadedEventLoopGroup.singleton) { event in
                    guard perPump else { return }
                    Self.say(Self.line(event))
                }
            }
            if let period = try? self.durations().progress {
                tasks.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: period)
                        Self.say(Self.summary(activity.snapshot, count: count))
                    }
                }
            }
            await tasks.next()
            tasks.cancelAll()
        }
        Self.say(Self.summary(activity.snapshot, count: count) + " (done)")
    }

    private static func line(_ event: PumpFleet.Event) -> String {
        switch event {
        case .connected(let serial, let resumed, let reconnect, let next):
            return
                "pump \(serial) \(reconnect ? "reconnected" : "connected"): handshake \(resumed ? "resumed" : "full"), "
                + "telemetry continues at sequence \(next)"
        case .lost(let serial, let error, let acknowledged, let retry):
            return "pump \(serial) link lost (\(error)) after \(acknowledged) telemetry acknowledged; "
                + "reconnecting in \(Int(retry / .milliseconds(1))) ms"
        case .finished(let serial, let acknowledged):
            return "pump \(serial) finished: telemetry acknowledged \(acknowledged)"
        }
    }

    private static func summary(_ snapshot: PumpActivity.Snapshot, count: Int) -> String {
        "pump-sim: connected \(snapshot.connected)/\(count), sessions \(snapshot.sessions) "
            + "(resumed \(snapshot.resumedSessions)), telemetry acknowledged \(snapshot.telemetryAcknowledged), "
            + "reconnects \(snapshot.reconnects), failed attempts \(snapshot.failedAttempts)"
    }

    private static func seconds(_ duration: Duration) -> String {
        String(format: "%.1f", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }

    /// One line on stdout, flushed (scripts and tests read it while the process runs).
    private static func say(_ line: String) {
        print(line)
        fflush(nil)
    }
}
