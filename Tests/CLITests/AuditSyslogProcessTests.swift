import Foundation
import MedTunnelTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `medtunnel gateway --syslog HOST:PORT --syslog-ca FILE` against a real rsyslog (imtcp with the
/// GnuTLS stream driver, octet-counted frames, omfile): every entry arrives, in order, across a
/// collector restart and a gateway restart; duplicates only right after a reconnect.
@Suite("gateway: the audit log as syslog over TLS to rsyslog", .serialized, .offThePool)
struct AuditSyslogProcessTests {
    static let rsyslogd = "/usr/sbin/rsyslogd"

    /// A collector in a temporary directory: its own CA and server certificate (127.0.0.1 and
    /// localhost), its own configuration and work directory, the raw messages in `out.log`.
    final class Collector {
        let directory: String
        let port: Int
        var process: BackgroundProcess?
        var caFile: String { self.directory + "/ca.pem" }
        var output: String { self.directory + "/out.log" }

        init(directory: String) throws {
            self.directory = directory
            self.port = Loopback.freePort()
            try FileManager.default.createDirectory(atPath: directory + "/work", withIntermediateDirectories: true)
            try self.makeCertificates()
            let configuration = """
                global(workDirectory="\(directory)/work"
                       defaultNetstreamDriver="gtls"
                       defaultNetstreamDriverCAFile="\(directory)/ca.pem"
                       defaultNetstreamDriverCertFile="\(directory)/server.pem"
                       defaultNetstreamDriverKeyFile="\(directory)/server-key.pem")
                module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
                input(type="imtcp" port="\(self.port)" address="127.0.0.1")
                template(name="raw" type="string" string="%rawmsg%\\n")
                action(type="omfile" file="\(directory)/out.log" template="raw")

                """
            try configuration.write(toFile: directory + "/rsyslog.conf", atomically: true, encoding: .utf8)
        }

        private func makeCertificates() throws {
            let d = self.directory
            let steps: [[String]] = [
                [
                    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                    "\(d)/ca-key.pem", "-out", "\(d)/ca.pem", "-days", "2", "-subj", "/CN=Syslog Test CA",
                    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
                ],
                [
                    "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                    "\(d)/server-key.pem", "-out", "\(d)/server.csr", "-subj", "/CN=localhost",
                ],
                [
                    "x509", "-req", "-in", "\(d)/server.csr", "-CA", "\(d)/ca.pem", "-CAkey", "\(d)/ca-key.pem",
                    "-CAcreateserial", "-out", "\(d)/server.pem", "-days", "2", "-extfile", "\(d)/ext.cnf",
                ],
            ]
            try "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
                .write(toFile: "\(d)/ext.cnf", atomically: true, encoding: .utf8)
            for step in steps {
                let result = try ProcessHarness.run("/usr/bin/openssl", step, timeout: 60)
                guard result.status == 0 else { throw HarnessError("openssl \(step[0]): \(result.stderr)") }
            }
        }

        /// Starts rsyslogd in the foreground and waits until it accepts connections.
        func start() throws {
            let process = try BackgroundProcess(
                AuditSyslogProcessTests.rsyslogd,
                ["-f", self.directory + "/rsyslog.conf", "-i", self.directory + "/rsyslogd.pid", "-n"],
                in: URL(fileURLWithPath: self.directory),
                name: "rsyslogd-\(UUID().uuidString.prefix(8))"
            )
            self.process = process
            try AuditSyslogProcessTests.eventually("rsyslogd listening on \(self.port)", timeout: 30) {
                guard process.process.isRunning else {
                    throw HarnessError("rsyslogd exited: \(process.stderr)")
                }
                return Loopback.accepts(port: self.port)
            }
        }

        /// SIGTERM, as an operator restarting it would.
        func stop() {
            self.process?.stop()
            self.process = nil
        }

        /// The `index` of every message received, in the order they were written.
        func indexes() -> [UInt64] {
            let text = (try? String(contentsOfFile: self.output, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { line in
                guard let range = line.range(of: "index=\"") else { return nil }
                return UInt64(line[range.upperBound...].prefix { $0.isNumber })
            }
        }
    }

    /// Polls `condition` until it holds (the machine is shared and loaded: no guessed sleeps).
    static func eventually(_ what: String, timeout: Double = 90, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return }
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw HarnessError("not within \(timeout) s: \(what)")
    }

    static func append(_ state: String, count: Int) throws {
        let result = try ProcessHarness.medtunnel([
            "audit", "append-loop", "--state-dir", state, "--callers", "1", "--count", "\(count)",
        ])
        #expect(result.status == 0, "\(result.stderr)")
    }

    static func logSize(_ state: String) throws -> UInt64 {
        let verified = try ProcessHarness.medtunnel(["audit", "verify", "--state-dir", state])
        guard let range = verified.stdout.range(of: "verified "),
            let size = UInt64(verified.stdout[range.upperBound...].prefix { $0.isNumber })
        else { throw HarnessError("audit verify: \(verified.stdout) \(verified.stderr)") }
        return size
    }

    /// Whether every index below `size` arrived.
    static func complete(_ indexes: [UInt64], size: UInt64) -> Bool { Set(indexes).isSuperset(of: 0..<size) }

    /// The received indexes as runs of consecutive indexes: a new run starts where the stream went
    /// back (a resend after a reconnect). A run that starts past the end of what came before is a gap.
    static func runs(_ indexes: [UInt64]) throws -> [ClosedRange<UInt64>] {
        var runs: [ClosedRange<UInt64>] = []
        var highest: UInt64?
        for index in indexes {
            if let last = runs.last, index == last.upperBound + 1 {
                runs[runs.count - 1] = last.lowerBound...index
                highest = max(highest ?? 0, index)
                continue
            }
            guard index <= (highest.map { $0 + 1 } ?? 0) else {
                throw HarnessError("index \(index) arrived after \(highest.map(String.init) ?? "nothing"): a gap")
            }
            runs.append(index...index)
            highest = max(highest ?? 0, index)
        }
        return runs
    }

    @Test("every entry arrives in order across a collector restart and a gateway restart")
    func stream() throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: Self.rsyslogd),
            "rsyslogd is not installed (apt-get install rsyslog rsyslog-gnutls, or run tools/setup)"
        )
        let tmp = try TemporaryDirectory()
        let pki = tmp.sub("pki")
        let state = tmp.sub("state")
        #expect(try ProcessHarness.medtunnel(["pki", "init", "--dir", pki]).status == 0)
        let collector = try Collector(directory: tmp.sub("rsyslog"))
        defer { collector.stop() }
        try collector.start()

        // Entries from before the stream was configured are streamed too.
        #expect(
            try ProcessHarness.medtunnel([
                "audit", "append", "--state-dir", state, "--kind", "config.changed", "--actor", "op\"1]", "--payload",
                #"{"patientId":"pat-1"}"#,
            ]).status == 0
        )
        try Self.append(state, count: 9)
        let arguments = [
            "gateway", "--pki", pki + "/gateway", "--state-dir", state, "--pump-listen", "127.0.0.1:0",
            "--syslog", "localhost:\(collector.port)", "--syslog-ca", collector.caFile,
            // Longer than a poll of the collector's file takes, so stopping it right after the last
            // entry arrived usually lands inside the settle time and forces a resend.
            "--syslog-settle", "5s",
        ]
        var gateway = try BackgroundProcess(ProcessHarness.medtunnel, arguments, in: tmp.url, name: "gateway-1")
        defer { gateway.stop() }
        _ = try gateway.waitForLine(containing: "listening for pumps", timeout: 60)
        try Self.append(state, count: 15)
        var size = try Self.logSize(state)
        try Self.eventually("entries 0..<\(size) at the collector") { Self.complete(collector.indexes(), size: size) }

        // The collector goes away mid-stream: entries appended meanwhile wait for it.
        collector.stop()
        try Self.append(state, count: 12)
        try Self.eventually("the gateway notices the collector is gone") {
            gateway.stderr.contains("syslog collector went away")
                || gateway.stderr.contains("syslog collector unreachable")
        }
        try collector.start()
        try Self.append(state, count: 8)
        size = try Self.logSize(state)
        try Self.eventually("entries 0..<\(size) after the collector's restart") {
            Self.complete(collector.indexes(), size: size)
        }
        #expect(gateway.stderr.contains("syslog collector is back"), "\(gateway.stderr)")
        #expect(gateway.stderr.contains("pending="), "\(gateway.stderr)")

        // The gateway restarts: it resumes from its cursor, not from the start of the log.
        try Self.eventually("the cursor file covers entries 0..<\(size)") {
            (try? String(contentsOfFile: state + "/syslog.cursor", encoding: .utf8))
                == "medtunnel-syslog-cursor v1 next=\(size)\n"
        }
        gateway.stop()
        #expect(gateway.process.terminationStatus == 0, "\(gateway.stderr)")
        let beforeRestart = collector.indexes().count
        try Self.append(state, count: 5)
        gateway = try BackgroundProcess(ProcessHarness.medtunnel, arguments, in: tmp.url, name: "gateway-2")
        _ = try gateway.waitForLine(containing: "listening for pumps", timeout: 60)
        try Self.append(state, count: 5)
        let finalSize = try Self.logSize(state)
        try Self.eventually("entries 0..<\(finalSize) after the gateway's restart") {
            Self.complete(collector.indexes(), size: finalSize)
        }
        #expect(gateway.stderr.contains("cursor=\(size)"), "\(gateway.stderr)")
        #expect(
            collector.indexes().dropFirst(beforeRestart).allSatisfy { $0 >= size },
            "resent entries from before the cursor"
        )

        // In order, none missing; a resend (a new run) only where a connection broke: at most once
        // for the collector's restart (the gateway stopped with everything settled).
        let indexes = collector.indexes()
        let runs = try Self.runs(indexes)
        print("syslog runs: \(runs) of \(indexes.count) messages")
        #expect(runs.count <= 2, "runs \(runs)")
        #expect(Set(indexes) == Set(0..<finalSize))
        let text = try String(contentsOfFile: collector.output, encoding: .utf8)
        #expect(text.contains(#"actor="op\"1\]" role="operator""#), "\(text.prefix(400))")
        #expect(text.contains(#"patient="pat-1""#))
        #expect(text.split(separator: "\n").allSatisfy { $0.hasPrefix("<8") && $0.contains(" medtunnel - ") })
        gateway.stop()
        withExtendedLifetime(tmp) {}
    }

    @Test("--syslog without --syslog-ca, and a CA file that is missing or not PEM, are refused naming the flag")
    func refusals() throws {
        let tmp = try TemporaryDirectory()
        let pki = tmp.sub("pki")
        #expect(try ProcessHarness.medtunnel(["pki", "init", "--dir", pki]).status == 0)
        let base = [
            "gateway", "--pki", pki + "/gateway", "--state-dir", tmp.sub("state"), "--pump-listen", "127.0.0.1:0",
        ]
        let notPEM = tmp.sub("ca.txt")
        try "not a certificate\n".write(toFile: notPEM, atomically: true, encoding: .utf8)
        let cases: [([String], String)] = [
            (["--syslog", "127.0.0.1:6514"], "--syslog needs --syslog-ca"),
            (["--syslog-ca", pki + "/gateway/ca.pem"], "--syslog-ca is given without --syslog"),
            (["--syslog", "127.0.0.1:6514", "--syslog-ca", tmp.sub("missing.pem")], "--syslog-ca"),
            (["--syslog", "127.0.0.1:6514", "--syslog-ca", notPEM], "--syslog-ca \(notPEM) holds no PEM certificate"),
            (
                ["--syslog", "127.0.0.1", "--syslog-ca", pki + "/gateway/ca.pem"],
                "--syslog '127.0.0.1' is not HOST:PORT"
            ),
        ]
        for (flags, message) in cases {
            let result = try ProcessHarness.medtunnel(base + flags, timeout: 60)
            #expect(result.status != 0, "\(flags)")
            #expect(result.stderr.contains(message), "\(flags): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: tmp.sub("state") + "/syslog.cursor"))
        withExtendedLifetime(tmp) {}
    }
}
