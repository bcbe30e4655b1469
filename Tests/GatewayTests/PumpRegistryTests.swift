import Gateway
import Synchronization
import Testing
import TunnelProtocol

@Suite("Pump registry")
struct PumpRegistryTests {
    @Test("a replaced session ending late does not mark the pump disconnected")
    func replacedSessionEndsLate() {
        let registry = PumpRegistry()
        let first = registry.sessionStarted(serial: "P1", resumed: false, now: 1, carrier: "phone A")
        let second = registry.sessionStarted(serial: "P1", resumed: true, now: 2, carrier: "phone B")
        registry.sessionEnded(serial: "P1", session: first, now: 3)
        #expect(registry.pump("P1")?.connected == true)
        #expect(registry.pump("P1")?.carrier == "phone B")
        registry.sessionEnded(serial: "P1", session: second, now: 4)
        #expect(registry.pump("P1")?.connected == false)
        #expect(registry.pump("P1")?.resumedSessions == 1)
    }

    @Test("telemetry is stored once per sequence; replays and older sequences are refused")
    func telemetryOncePerSequence() {
        let registry = PumpRegistry()
        registry.sessionStarted(serial: "P1", resumed: false, now: 1)
        func telemetry(_ sequence: UInt64) -> InnerMessage.Telemetry {
            .init(
                sequence: sequence,
                timeMilliseconds: 0,
                reservoirMilliunits: 0,
                basalRateMilliunitsPerHour: 0,
                glucoseMgPerDL: 0,
                batteryPercent: 50
            )
        }
        #expect(registry.storeTelemetry(serial: "P1", telemetry(1), now: 1))
        #expect(registry.storeTelemetry(serial: "P1", telemetry(2), now: 1))
        #expect(!registry.storeTelemetry(serial: "P1", telemetry(2), now: 1))
        #expect(!registry.storeTelemetry(serial: "P1", telemetry(1), now: 1))
        #expect(!registry.storeTelemetry(serial: "UNKNOWN", telemetry(9), now: 1))
        #expect(registry.pump("P1")?.telemetryStored == 2)
    }
}

@Suite("Pump registry: one live session per pump")
struct PumpRegistryLiveSessionTests {
    @Test("a second session returns the first to be closed; closing all closes the live one")
    func replacement() throws {
        let registry = PumpRegistry()
        let closed = Mutex<[String]>([])
        let first = registry.startSession(serial: "P1", resumed: false, now: 1, carrier: "phone A") {
            closed.withLock { $0.append("first") }
        }
        #expect(first.replaced == nil)
        let second = registry.startSession(serial: "P1", resumed: false, now: 2, carrier: "phone B") {
            closed.withLock { $0.append("second") }
        }
        let replaced = try #require(second.replaced)
        #expect(replaced.number == first.number && replaced.carrier == "phone A")
        replaced.close()
        #expect(closed.withLock { $0 } == ["first"])
        registry.sessionEnded(serial: "P1", session: first.number, now: 3)
        #expect(registry.liveSessionCount == 1)
        #expect(registry.closeAllSessions() == 1)
        #expect(closed.withLock { $0 } == ["first", "second"])
        registry.sessionEnded(serial: "P1", session: second.number, now: 4)
        #expect(registry.liveSessionCount == 0)
    }
}
