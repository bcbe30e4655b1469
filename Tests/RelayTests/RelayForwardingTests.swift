import Gateway
import GatewayTLS
import NIOCore
import NIOPosix
import PumpSimulator
import RelayCore
import Testing
import TunnelProtocol

@Suite("Relay: pumps through one phone relay to the gateway, in process")
struct RelayForwardingTests {
    @Test("three pumps through one relay: handshakes complete, telemetry acknowledged, phone recorded as carrier")
    func threePumpsThroughOneRelay() async throws {
        let bed = try await RelayTestBed()
        let recorder = ByteRecorder()
        let phone = try await bed.running(try bed.relay(tap: recorder.tap))
        let relay = phone.relay
        let port = phone.port
        let serials = ["PUMP-0001", "PUMP-0002", "PUMP-0003"]

        let results = try await bed.runPumps(serials, port: port)
        let reports = results.values.compactMap { try? $0.get() }

        #expect(reports.count == 3)
        #expect(reports.allSatisfy { $0.telemetryAcknowledged == 3 })
        for serial in serials {
            let status = bed.gateway.registry.pump(serial)
            #expect(status?.carrier == "phone PHONE-1", "\(serial): \(String(describing: status))")
            #expect(status?.telemetryStored == 3)
            #expect(status?.firmware == "medtunnel-sim-1")
        }

        // The tap saw every byte the relay handled, and none of the inner plaintext.
        #expect(await bed.eventually { relay.counters.snapshot.linksOpen == 0 })
        let fromPumps = recorder.recorded(.fromPump)
        let uplinkOut = recorder.recorded(.uplinkOut)
        #expect(fromPumps.count > 1_000 && uplinkOut.count > fromPumps.count)
        #expect(!recorder.recorded(.toPump).isEmpty && !recorder.recorded(.uplinkIn).isEmpty)
        let everything = recorder.all
        for sequence in 1...3 {
            let plaintext = InnerMessage.telemetry(SimulatedPumpHandler.telemetry(sequence: UInt64(sequence))).encoded()
            #expect(!everything.contains(subsequence: plaintext), "telemetry \(sequence) in clear in the relay")
        }
        #expect(!everything.contains(subsequence: Array("medtunnel-sim-1".utf8)), "hello firmware in clear")
        // Control: the tap can see clear text. TLS 1.2 sends the pump's certificate in clear
        // on the link; inside the outer TLS 1.3 the gateway-bound wire hides even that.
        #expect(fromPumps.contains(subsequence: Array("PUMP-0001".utf8)))
        #expect(!uplinkOut.contains(subsequence: Array("PUMP-0001".utf8)))

        let counters = relay.counters.snapshot
        #expect(counters.linksAccepted == 3)
        #expect(counters.bytesFromPumps == fromPumps.count)
        #expect(counters.drops.isEmpty)
        // Links that ended normally are not security events.
        #expect(await bed.eventually { bed.gateway.registry.pumps.allSatisfy { !$0.connected } })
        #expect(bed.gateway.registry.events.isEmpty, "\(bed.gateway.registry.events)")

        await phone.stop()
        await bed.shutdown()
    }

    @Test(
        "a record tampered on one pump's link ends only that tunnel: the event names the pump and its phone, nothing is stored, the other pumps carry on"
    )
    func tamperedLinkEndsOnlyItsTunnel() async throws {
        let bed = try await RelayTestBed()
        let phone = try await bed.running(try bed.relay())
        let port = phone.port

        let results = try await bed.runPumps(
            ["PUMP-0001", "PUMP-0002", "PUMP-0003"],
            port: port,
            tampered: "PUMP-0003"
        )

        for serial in ["PUMP-0001", "PUMP-0002"] {
            #expect(
                (try? results[serial]?.get())?.telemetryAcknowledged == 3,
                "\(serial): \(String(describing: results[serial]))"
            )
        }
        guard case .failure? = results["PUMP-0003"] else {
            Issue.record("the tampered session survived")
            return
        }
        #expect(bed.gateway.registry.pump("PUMP-0003")?.telemetryStored == 0)
        #expect(bed.gateway.registry.pump("PUMP-0003")?.firmware == nil, "the tampered hello was applied")
        let event = bed.gateway.registry.events.first { $0.device == "PUMP-0003" }
        #expect(event?.kind == "tunnel_failed")
        #expect(event?.carrier == "phone PHONE-1")
        #expect(
            event?.detail.contains("TLS \(GatewayTLSError.Code.recordRejected):") == true,
            "\(String(describing: event))"
        )
        #expect(!bed.gateway.registry.events.contains { $0.device != "PUMP-0003" })

        await phone.stop()
        await bed.shutdown()
    }
}
