import ArgumentParser
import AuditLog
import Foundation

extension AuditCommand {
    struct Append: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "(administrative) Append one entry by hand; the gateway appends its own entries.",
            discussion: """
                For testing and operations. Prints the durable index of the new entry. The entry is \
                stamped now and its payload records the operating-system user who ran the command \
                ("administrative": true, "osUser": ...) beside the claimed --actor.
                """
        )

        @OptionGroup var location: AuditLocation

        @Option(help: "The entry kind, e.g. config.changed (see AuditKind).")
        var kind: String

        @Option(help: "The actor id.")
        var actor: String

        @Option(help: "The actor's role.")
        var role: String = "operator"

        @Option(help: "The payload, a JSON value.")
        var payload: String = "{}"

        @Option(help: "The pump serial, if the entry concerns one pump.")
        var pump: String?

        @Option(help: "The phone id, if relevant.")
        var phone: String?

        // Kept only to refuse it by name: a hand-made entry is stamped now, never back-dated.
        @Option(help: .hidden)
        var time: String?

        func validate() throws {
            if self.time != nil {
                throw ValidationError(
                    "--time is not accepted: an appended entry is stamped with the current time, so a hand-made entry cannot be back-dated among the gateway's"
                )
            }
        }

        func run() async throws {
            try await reportingAuditErrors {
                let payload = try AdministrativePayload.wrap(self.payload, osUser: AdministrativePayload.currentUser())
                let event = try AuditEvent(
                    timeMilliseconds: Int64(Date().timeIntervalSince1970 * 1000),
                    actor: try AuditActor(id: self.actor, role: self.role),
                    kind: try AuditKind(self.kind),
                    pumpSerial: self.pump,
                    phoneID: self.phone,
                    payload: payload
                )
                let log = try await self.location.openLogForWriting()
                let receipt = try await log.append(event)
                Console.out("appended index \(receipt.index)")
            }
        }
    }

    struct AppendLoop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "append-loop",
            abstract: "(test tool) Append forever from concurrent callers, printing each durable index.",
            shouldDisplay: false
        )

        @OptionGroup var location: AuditLocation

        @Option(help: "Concurrent callers.")
        var callers: Int = 4

        @Option(help: "Stop after this many appends per caller (default: never).")
        var count: Int = .max

        @Option(help: "Sign a checkpoint every this many entries.")
        var checkpointInterval: UInt64 = 64

        @Option(help: "Append to this PostgreSQL database instead (the key still comes from --state-dir).")
        var database: String?

        func run() async throws {
            try await reportingAuditErrors {
                let log = try await self.location.openLog(
                    database: self.database,
                    checkpointInterval: self.checkpointInterval
                )
                let actor = try AuditActor(id: "append-loop", role: "system")
                try await withThrowingDiscardingTaskGroup { group in
                    for caller in 0..<self.callers {
                        group.addTask {
                            for step in 0..<self.count {
                                let payload = "{\"caller\":\(caller),\"step\":\(step)}"
                                let event = try AuditEvent(
                                    timeMilliseconds: Int64(Date().timeIntervalSince1970 * 1000),
                                    actor: actor,
                                    kind: .securityEvent,
                                    pumpSerial: "PUMP-\(caller)",
                                    payload: Array(payload.utf8)
                                )
                                let receipt = try await log.append(event)
                                Console.out("\(receipt.index)")
                            }
                        }
                    }
                }
            }
        }
    }
}
