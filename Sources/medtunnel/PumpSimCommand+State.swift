import ArgumentParser
import Foundation
import MedTunnelIdentity
import MedTunnelPKI
import PumpRuntime
import TherapyJSON
import TherapyModel

/// `pump-sim` options for taking commands: the pump's durable state and what a new pump
/// starts with.
struct PumpStateOptions: ParsableArguments {
    @Option(
        name: .customLong("state-dir"),
        help: ArgumentHelp(
            "The pump's own storage (required): its key DIR/SERIAL.key, certificate and trust anchors, and its "
                + "command state DIR/SERIAL.state (created with factory settings if missing).",
            valueName: "dir"
        )
    )
    var stateDirectory: String?
    @Option(name: .customLong("pump-model"), help: "A pump model JSON file (default: the simulator's 0.05 U model).")
    var pumpModel: String?
    @Option(
        name: .customLong("initial-settings"),
        help: "A settings JSON file for a pump whose state file does not exist yet (default: factory settings)."
    )
    var initialSettings: String?

    /// The pump model: `--pump-model` or the simulator's.
    func model() throws -> PumpModel {
        try self.pumpModel.map { try TherapyJSON.pumpModel(from: Data(contentsOf: URL(fileURLWithPath: $0))) }
            ?? PumpDefaults.simulatorModel
    }

    /// The pump's command core, or nil without `--state-dir`; it signs acknowledgements with the
    /// pump's own key and checks commands with the command key installed beside it.
    /// `MEDTUNNEL_CRASH_AFTER_PERSIST=1` (tests only) makes the process exit with status 137 right
    /// after a command's state is durable, before it is acknowledged.
    func runtime(serial: String, credentials: DeviceCredentials) throws -> PumpRuntime? {
        guard let stateDirectory else { return nil }
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        let model = try self.model()
        let settings = try self.initialSettings.map {
            try TherapyJSON.settings(from: Data(contentsOf: URL(fileURLWithPath: $0)))
        }
        guard let commandPublicKeyPEM = credentials.commandPublicKeyPEM else {
            throw ValidationError(
                "pump \(serial) has no command public key in \(stateDirectory)/command.pem: install its certificate "
                    + "with --install CERT --trust PKI/gateway (or enroll with --enroll-with PKI)"
            )
        }
        var configuration = PumpRuntime.Configuration(
            serial: serial,
            model: model,
            commandPublicKeyPEM: commandPublicKeyPEM,
            deviceKeyPEM: credentials.privateKeyPEM,
            stateFilePath: PumpRuntime.stateFilePath(directory: stateDirectory, serial: serial)
        )
        configuration.crashAfterPersist = ProcessInfo.processInfo.environment["MEDTUNNEL_CRASH_AFTER_PERSIST"] == "1"
        let runtime = try PumpRuntime(
            configuration,
            factorySettings: settings ?? PumpDefaults.factorySettings(for: model)
        )
        let digest = runtime.settingsDigest.prefix(8).map { String(format: "%02x", $0) }.joined()
        print(
            "pump \(serial) state \(configuration.stateFilePath): last applied sequence "
                + "\(runtime.state.lastAppliedSequence), high-water \(runtime.state.highWaterSequence), "
                + "settings digest \(digest)…\(runtime.state.isLockedOut ? ", locked out" : "")"
        )
        fflush(nil)  // the crash hook ends the process without flushing stdio
        return runtime
    }
}
