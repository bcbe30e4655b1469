import AuditLog
import AuditWitness
import Foundation
import MedTunnelTestSupport

/// Logs in state directories, a witness over them, and the built `medtunnel` binary.
enum WitnessTestSupport {
    static let origin = "medtunnel.local/audit"

    static func temporaryDirectory() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("witness-test-\(UUID().uuidString)")
            .path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func event(_ number: Int, tag: String) -> AuditEvent {
        try! AuditEvent(
            timeMilliseconds: 1_763_700_000_000 + Int64(number),
            actor: try AuditActor(id: "clinician-\(number % 5)", role: "clinician"),
            kind: .changeRequested,
            pumpSerial: "PUMP-1",
            payload: Array(#"{"n":\#(number),"log":"\#(tag)"}"#.utf8)
        )
    }

    /// Appends entries `from..<to` to the log in `state` (created on first use) and signs a
    /// checkpoint of the new size. `tag` goes into each payload, so two logs with different tags
    /// and the same key are two forks of one log.
    @discardableResult
    static func grow(_ state: String, from: Int = 0, to: Int, tag: String = "main") async throws -> SignedCheckpoint {
        let log = try await AuditLog.open(stateDirectory: state, configuration: .init(origin: origin))
        for number in from..<to { _ = try await log.append(self.event(number, tag: tag)) }
        return try await log.checkpoint()
    }

    /// The log key of a state directory.
    static func logKey(_ state: String) throws -> NoteVerifier {
        try AuditStateDirectory(path: state).signer(name: origin, create: false).verifier
    }

    /// A second state directory holding the same signing key as `state` and no entries yet: the
    /// same log operator, able to sign a forked history.
    static func sameKey(as state: String) throws -> String {
        let other = "\(self.temporaryDirectory())/fork"
        try AuditStateDirectory(path: other).create()
        try FileManager.default.copyItem(atPath: "\(state)/checkpoint-key.pem", toPath: "\(other)/checkpoint-key.pem")
        return other
    }

    static func witness(
        _ state: String,
        statePath: String,
        cosigner: Cosigner,
        client: WitnessLogClient? = nil
    ) throws -> LogWitness {
        LogWitness(
            origin: origin,
            logKey: try self.logKey(state),
            cosigner: cosigner,
            statePath: statePath,
            client: client ?? .directory(state)
        )
    }

    static func cosigner(_ directory: String) throws -> Cosigner {
        try Cosigner.generate(name: "witness.example/w1", path: "\(directory)/witness-\(UUID().uuidString).key")
    }

    /// The built `medtunnel` executable, found by walking up from the test bundle.
    static let medtunnel: String = {
        var candidates = [URL(fileURLWithPath: CommandLine.arguments[0]), Bundle.main.bundleURL]
        candidates += Bundle.allBundles.map(\.bundleURL)
        for start in candidates {
            var directory = start.deletingLastPathComponent()
            for _ in 0..<6 {
                let binary = directory.appendingPathComponent("medtunnel").path
                if FileManager.default.isExecutableFile(atPath: binary) { return binary }
                directory = directory.deletingLastPathComponent()
            }
        }
        fatalError("medtunnel binary not found near \(CommandLine.arguments[0]); run swift build --build-tests first")
    }()

    static func medtunnel(_ arguments: [String]) throws -> ChildProcess.Output {
        try ChildProcess.run(self.medtunnel, arguments)
    }
}
