import AnomalyRules
import ArgumentParser
import AuditLog
import AuditSyslog
import AuditSyslogStream
import CoreMetrics
import Gateway
import Logging

/// `medtunnel gateway --syslog HOST:PORT --syslog-ca FILE`: every audit entry, from the durable
/// cursor in STATE/syslog.cursor on, as RFC 5424 syslog over TLS (docs/exports.md, "Syslog").
struct SyslogOptions: ParsableArguments {
    @Option(
        name: .customLong("syslog"),
        help: ArgumentHelp(
            "Stream every audit entry as RFC 5424 syslog over TLS (RFC 5425) to this collector; needs --syslog-ca.",
            valueName: "host:port"
        )
    )
    var address: String?
    @Option(
        name: .customLong("syslog-ca"),
        help: ArgumentHelp(
            "PEM CA certificate(s) that verify the --syslog collector's certificate (its host name is checked too).",
            valueName: "file"
        )
    )
    var caFile: String?
    // For tests: a longer settle time makes a collector's restart land inside it (docs/exports.md).
    @Option(name: .customLong("syslog-settle"), help: .hidden)
    var settle = "2s"

    /// The collector, nil without --syslog; refuses one flag without the other, a malformed
    /// address and an unreadable or non-PEM CA file, naming the flag.
    func collector() throws -> SyslogCollector? {
        switch (self.address, self.caFile) {
        case (nil, nil):
            return nil
        case (.some, nil):
            throw ValidationError("--syslog needs --syslog-ca FILE: the CA that verifies the collector's certificate")
        case (nil, .some):
            throw ValidationError("--syslog-ca is given without --syslog HOST:PORT; give both or neither")
        case (.some(let address), .some(let caFile)):
            _ = try durationOption("--syslog-settle", self.settle)
            guard let collector = HostPort(address), collector.port > 0 else {
                throw ValidationError("--syslog '\(address)' is not HOST:PORT with a port of 1...65535")
            }
            do {
                return try SyslogCollector(host: collector.host, port: collector.port, caFile: caFile)
            } catch let error where error.code == .invalidCA {
                throw ValidationError("--syslog-ca \(error.reason)")
            } catch {
                throw ValidationError("--syslog \(error.reason)")
            }
        }
    }

    func service(
        log: AuditLog,
        stateDirectory: String,
        metrics: any MetricsFactory,
        logger: Logger
    ) throws -> AuditSyslogService<ContinuousClock>? {
        guard let collector = try self.collector() else { return nil }
        var configuration = AuditSyslogService<ContinuousClock>.Configuration(
            collector: collector,
            stateDirectory: stateDirectory
        )
        configuration.stream.settleTime = .milliseconds(RuleDuration.parse(Substring(self.settle)) ?? 2_000)
        return AuditSyslogService(
            log: log,
            configuration: configuration,
            metrics: metrics,
            logger: logger
        )
    }
}
