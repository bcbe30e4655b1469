import AuditLog
import Foundation

/// A fresh log in a temporary state directory, removed when the value goes.
final class AuditTrailTestLog: Sendable {
    let directory: URL
    let log: AuditLog

    init(checkpointInterval: UInt64 = 1024) async throws {
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "medtunnel-audit-trail-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        self.log = try await AuditLog.open(
            stateDirectory: self.directory.path,
            configuration: .init(checkpointInterval: checkpointInterval)
        )
    }

    deinit { try? FileManager.default.removeItem(at: self.directory) }

    @discardableResult
    func append(
        _ kind: AuditKind,
        actor: String = "alice",
        role: String = "patient",
        pump: String? = nil,
        time: Int64 = 1_796_119_200_000,
        payload: String = "{}"
    ) async throws -> UInt64 {
        try await self.log.append(
            try AuditEvent(
                timeMilliseconds: time,
                actor: try AuditActor(id: actor, role: role),
                kind: kind,
                pumpSerial: pump,
                payload: Array(payload.utf8)
            )
        ).index
    }
}
