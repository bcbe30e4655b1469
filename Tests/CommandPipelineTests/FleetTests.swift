import ChangeRequests
import CommandPipeline
import Foundation
import Testing

/// Many pumps at once: each pump's commands in order, one at a time, on its own sequence;
/// pumps in parallel.
@Suite("Command pipeline: a fleet")
struct FleetTests {
    @Test(
        "12 pumps, 3 boluses each submitted at once: every bolus applied once, sequences 1…3 per pump, the log agrees"
    )
    func fleet() async throws {
        let fixture = try await PipelineFixture.make()
        let pumps = try SharedPKI.fleet.map { try TestPump(serial: $0, fixture: fixture) }
        let token = try await fixture.bearer("alice")
        try await fixture.running {
            for pump in pumps {
                try await fixture.setTherapy(serial: pump.serial)
                pump.connect()
            }
            let ids = try await withThrowingTaskGroup(of: ChangeRequestID.self) { group in
                for pump in pumps {
                    for index in 0..<3 {
                        group.addTask {
                            try await fixture.pipeline.submitChange(
                                serial: pump.serial,
                                idempotencyKey: "\(pump.serial)-\(index)",
                                body: PipelineFixture.bolus(1000),
                                authorization: token
                            ).request.id
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(ids).count == 36)
            for pump in pumps { await fixture.pipeline.waitUntilIdle(pump.serial) }
            for id in ids {
                #expect(try await fixture.request(id).state == .applied)
            }
            for pump in pumps {
                #expect(pump.commands.map(\.envelope.sequence) == [1, 2, 3], "\(pump.serial)")
                #expect(pump.state.lastAppliedSequence == 3)
                try await expectAuditAgreesWithPump(fixture, pump)
            }
        }
    }
}
