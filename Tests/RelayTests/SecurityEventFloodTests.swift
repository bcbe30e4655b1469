import AuditLog
import CommandPipeline
import Foundation
import Gateway
import NIOCore
import NIOPosix
import SecurityEvents
import Testing

/// Unauthenticated peers cannot flood the audit log: a storm of failed handshakes from one
/// address is written as its first event and one entry with the count per minute.
@Suite("Security event flood")
struct SecurityEventFloodTests {
    @Test("300 failed handshakes from one address leave at most two audit entries a minute, counting all 300")
    func handshakeFlood() async throws {
        let bed = try await RelayTestBed(pumps: [], commandClock: CommandPipeline.wallClock)
        let commands = try #require(bed.gateway.commands)
        let events = try #require(bed.gateway.events)
        let recorder = Task { await events.run() }
        let flood = 300
        let garbage = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: gateway\r\n\r\n")
        for _ in 0..<flood {
            let channel = try await ClientBootstrap(group: bed.group)
                .connect(host: "127.0.0.1", port: bed.relayPort).get()
            try? await channel.writeAndFlush(garbage)
            try? await channel.closeFuture.get()
        }
        let seen = await bed.eventually {
            bed.gateway.registry.events.filter { $0.kind == "relay_handshake_failed" }.count >= flood
        }
        #expect(seen, "the gateway did not see every failed handshake")
        await events.flush(now: .max)
        // What reached the audit log: the events and the counts, all for 127.0.0.1.
        func flooded() async throws -> [SecurityEventRecord] {
            let entries = try await commands.audit.entries(in: 0..<(try await commands.audit.storedSize()))
            return entries.compactMap(SecurityEventRecord.init).filter { $0.event == "relay_handshake_failed" }
        }
        var records = try await flooded()
        for _ in 0..<200 where records.map({ $0.count ?? 1 }).reduce(0, +) < flood {
            try await Task.sleep(for: .milliseconds(20))
            records = try await flooded()
        }
        #expect(records.map { $0.count ?? 1 }.reduce(0, +) == flood)
        #expect(records.allSatisfy { $0.source == "127.0.0.1" })
        // One minute boundary may fall inside the flood: at most two minutes, two entries each.
        #expect(records.count <= 4, "\(records.count) audit entries for one flood")
        let indexed = try await events.store.events(kind: "relay_handshake_failed", limit: 1_000)
        #expect(indexed.map(\.count).reduce(0, +) == flood)
        recorder.cancel()
        await bed.shutdown()
    }
}
