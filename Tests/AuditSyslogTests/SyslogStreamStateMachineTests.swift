import Testing

@testable import AuditSyslog

@Suite("syslog: the stream's state machine")
struct SyslogStreamStateMachineTests {
    typealias Machine = SyslogStreamStateMachine<ContinuousClock.Instant>
    let t0 = ContinuousClock.now
    func at(_ milliseconds: Int64) -> ContinuousClock.Instant { self.t0 + .milliseconds(milliseconds) }

    static let configuration = Machine.Configuration(
        batchSize: 10,
        settleTime: .seconds(2),
        initialBackoff: .milliseconds(500),
        maximumBackoff: .seconds(4)
    )

    /// A machine at `cursor`, connected at time 0.
    func connected(cursor: UInt64 = 0, size: UInt64) -> Machine {
        var machine = Machine(cursor: cursor, logSize: size, configuration: Self.configuration)
        #expect(machine.tick(now: self.at(0)) == .connect)
        #expect(
            machine.connectSucceeded(now: self.at(0)) == .report(.connected(pending: size - cursor, afterOutage: false))
        )
        return machine
    }

    @Test("connect, then send the log in batches from the cursor, up to its end")
    func batches() {
        var machine = self.connected(cursor: 5, size: 27)
        #expect(machine.tick(now: self.at(1)) == .send(5..<15))
        #expect(machine.tick(now: self.at(1)) == .none)  // one batch at a time
        machine.batchWritten(5..<15, now: self.at(1))
        #expect(machine.tick(now: self.at(1)) == .send(15..<25))
        machine.batchWritten(15..<25, now: self.at(2))
        #expect(machine.tick(now: self.at(2)) == .send(25..<27))
        machine.batchWritten(25..<27, now: self.at(3))
        #expect(machine.tick(now: self.at(3)) == .none)
        machine.logGrew(to: 28)
        #expect(machine.tick(now: self.at(4)) == .send(27..<28))
    }

    @Test("written entries settle a settle time later, and only then is the cursor persisted")
    func settle() {
        var machine = self.connected(size: 12)
        #expect(machine.tick(now: self.at(0)) == .send(0..<10))
        machine.batchWritten(0..<10, now: self.at(100))
        #expect(machine.tick(now: self.at(100)) == .send(10..<12))
        machine.batchWritten(10..<12, now: self.at(1_000))
        #expect(machine.tick(now: self.at(2_099)) == .none)
        #expect(machine.pending == 12)
        // Not while the collector's TCP stack still has bytes unacknowledged.
        #expect(machine.tick(now: self.at(2_100), peerAcknowledged: false) == .none)
        #expect(machine.tick(now: self.at(2_100)) == .persistCursor(10))
        machine.cursorPersisted(10)
        #expect(machine.durable == 10 && machine.pending == 2)
        #expect(machine.tick(now: self.at(3_000)) == .persistCursor(12))
        machine.cursorPersisted(12)
        #expect(machine.tick(now: self.at(3_000)) == .none)
        #expect(machine.pending == 0)
    }

    @Test("a connection that breaks rewinds to what settled: the unsettled entries are sent again")
    func breakRewinds() {
        var machine = self.connected(size: 30)
        #expect(machine.tick(now: self.at(0)) == .send(0..<10))
        machine.batchWritten(0..<10, now: self.at(0))
        #expect(machine.tick(now: self.at(0)) == .send(10..<20))
        machine.batchWritten(10..<20, now: self.at(1_500))
        #expect(machine.tick(now: self.at(2_000)) == .persistCursor(10))
        machine.cursorPersisted(10)
        #expect(machine.tick(now: self.at(2_000)) == .send(20..<30))
        // The collector goes away before 10..<20 settled, while 20..<30 was being written.
        #expect(
            machine.connectionLost(now: self.at(2_100))
                == .report(.lost(pending: 20, resendFrom: 10, retryIn: .milliseconds(500)))
        )
        #expect(machine.tick(now: self.at(2_599)) == .none)
        #expect(machine.tick(now: self.at(2_600)) == .connect)
        #expect(machine.connectSucceeded(now: self.at(2_700)) == .report(.connected(pending: 20, afterOutage: true)))
        #expect(machine.tick(now: self.at(2_700)) == .send(10..<20))
    }

    @Test("failed connects back off exponentially up to the cap; a connection that lasts resets it")
    func backoff() {
        var machine = Machine(cursor: 0, logSize: 3, configuration: Self.configuration)
        var now: Int64 = 0
        var delays: [Duration] = []
        for attempt in 0..<6 {
            #expect(machine.tick(now: self.at(now)) == .connect)
            guard
                case .report(.unreachable(pending: 3, let retryIn, let first)) = machine.connectFailed(
                    now: self.at(now)
                )
            else {
                Issue.record("attempt \(attempt): no unreachable report")
                return
            }
            #expect(first == (attempt == 0))
            delays.append(retryIn)
            now += Int64(retryIn.components.seconds * 1000 + retryIn.components.attoseconds / 1_000_000_000_000_000)
        }
        #expect(delays == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(4), .seconds(4)])
        #expect(machine.tick(now: self.at(now)) == .connect)
        _ = machine.connectSucceeded(now: self.at(now))
        _ = machine.tick(now: self.at(now + 2_000))  // up for a settle time
        #expect(
            machine.connectionLost(now: self.at(now + 2_000))
                == .report(.lost(pending: 3, resendFrom: 0, retryIn: .milliseconds(500)))
        )
    }

    @Test("a failed cursor write is retried after the longest backoff, and the stream goes on meanwhile")
    func cursorWriteFails() {
        var machine = self.connected(size: 20)
        #expect(machine.tick(now: self.at(0)) == .send(0..<10))
        machine.batchWritten(0..<10, now: self.at(0))
        #expect(machine.tick(now: self.at(2_000)) == .persistCursor(10))
        machine.cursorNotPersisted(now: self.at(2_000))
        #expect(machine.tick(now: self.at(2_000)) == .send(10..<20))
        machine.batchWritten(10..<20, now: self.at(2_000))
        #expect(machine.tick(now: self.at(5_999)) == .none)
        #expect(machine.tick(now: self.at(6_000)) == .persistCursor(20))
    }

    @Test("a lost connection while connecting counts as a failed connect; while idle it is ignored")
    func lostElsewhere() {
        var machine = Machine(cursor: 0, logSize: 0, configuration: Self.configuration)
        #expect(machine.connectionLost(now: self.at(0)) == .none)
        #expect(machine.tick(now: self.at(0)) == .connect)
        #expect(
            machine.connectionLost(now: self.at(0))
                == .report(.unreachable(pending: 0, retryIn: .milliseconds(500), first: true))
        )
        #expect(!machine.isConnected)
    }
}
