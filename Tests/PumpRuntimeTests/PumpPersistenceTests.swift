import CommandAuthority
import Crypto
import Foundation
import PumpRuntime
import Testing
import TherapyModel
import TunnelProtocol

@Suite("Pump runtime: persistence, restart, crash between persisting and acknowledging")
struct PumpPersistenceTests {
    let fixture: RuntimeFixture

    init() throws { self.fixture = try RuntimeFixture() }

    @Test("a new pump writes its factory state at once; the hello reports sequence 0 and its digest")
    func factoryState() throws {
        #expect(!FileManager.default.fileExists(atPath: self.fixture.statePath))
        let runtime = try self.fixture.runtime()
        #expect(FileManager.default.fileExists(atPath: self.fixture.statePath))
        let hello = try runtime.hello(firmware: "test")
        #expect(hello.lastAppliedSequence == 0)
        #expect(hello.settingsDigest == SettingsDigest.sha256(of: RuntimeFixture.factory))
    }

    @Test("the high-water mark and settings survive a restart; a replay after restart is refused")
    func restart() throws {
        let first = try self.fixture.runtime()
        let change = try self.fixture.command(.change(.setMaxBolus(Milliunits(8_000))), sequence: 5)
        #expect(try self.fixture.send(change, to: first) == .applied)

        let restarted = try self.fixture.runtime()
        #expect(restarted.state.highWaterSequence == 5)
        #expect(restarted.state.settings.maxBolus == Milliunits(8_000))
        #expect(try self.fixture.send(change, to: restarted) == .refused(.replayedSequence))
        let bolus = try self.fixture.command(.change(.bolus(Milliunits(9_000))), sequence: 6)
        #expect(try self.fixture.send(bolus, to: restarted) == .refused(.hardLimit(.bolusAboveMaxBolus)))
    }

    @Test("crash after persisting, before acknowledging: the resent envelope is a replay and the hello settles it")
    func crashBeforeAcknowledgement() throws {
        let pump = try self.fixture.runtime()
        let schedule = try DailySchedule([
            .init(startMinute: 0, value: MilliunitsPerHour(700)),
            .init(startMinute: 420, value: MilliunitsPerHour(950)),
        ])
        let command = try self.fixture.command(.change(.setBasalSchedule(schedule)), sequence: 9)
        _ = pump.handle(commandBody: command.encoded, now: RuntimeFixture.now)  // the ack is lost with the pump

        let restarted = try self.fixture.runtime()
        let hello = try restarted.hello(firmware: "test")
        #expect(hello.lastAppliedSequence == 9)
        let expected = RuntimeFixture.factory.applying(.setBasalSchedule(schedule))
        #expect(hello.settingsDigest == SettingsDigest.sha256(of: expected))

        let again = try self.fixture.verified(
            restarted.handle(commandBody: command.encoded, now: RuntimeFixture.now),
            answering: command
        )
        #expect(again.result == .refused(.replayedSequence))
        #expect(again.lastAppliedSequence == 9)
        #expect(restarted.state.settings == expected)
    }

    @Test("a refused command's sequence stays spent across a restart")
    func refusedStaysSpent() throws {
        let pump = try self.fixture.runtime()
        let command = try self.fixture.command(RuntimeFixture.bolus, sequence: 3)
        #expect(try self.fixture.send(command, to: pump, at: command.envelope.expiresAt) == .refused(.expired))
        let restarted = try self.fixture.runtime()
        #expect(restarted.state.highWaterSequence == 3)
        #expect(restarted.state.lastAppliedSequence == 0)
        #expect(try self.fixture.send(command, to: restarted) == .refused(.replayedSequence))
    }

    @Test("every command kind applies and changes the state as the model says", arguments: 0..<13)
    func everyKind(index: Int) throws {
        let commands: [PumpCommand] = [
            .change(.setBasalSchedule(DailySchedule(constant: MilliunitsPerHour(900)))),
            .change(.tempBasal(rate: MilliunitsPerHour(1_500), durationMinutes: 60)),
            .change(.bolus(Milliunits(1_000))),
            .change(.setMaxBasal(MilliunitsPerHour(3_000))),
            .change(.setMaxBolus(Milliunits(12_000))),
            .change(.setCarbRatios(DailySchedule(constant: CarbRatio(gramsPerUnit: 11)))),
            .change(.setSensitivities(DailySchedule(constant: InsulinSensitivity(mgdLPerUnit: 40)))),
            .change(
                .setCorrectionRange(
                    DailySchedule(constant: try CorrectionRange(lower: GlucoseMgdL(90), upper: GlucoseMgdL(110)))
                )
            ),
            .change(.setSuspendThreshold(GlucoseMgdL(80))),
            .change(.suspend),
            .change(.resume),
            .lockoutStart(suspendDelivery: true),
            .lockoutLift,
        ]
        let pump = try self.fixture.runtime()
        let command = try self.fixture.command(commands[index], sequence: 1)
        let ack = try self.fixture.verified(
            pump.handle(commandBody: command.encoded, now: RuntimeFixture.now),
            answering: command
        )
        #expect(ack.result == .applied)
        var expected = RuntimeFixture.factory
        if case .change(let change) = commands[index] { expected = expected.applying(change) }
        #expect(ack.settingsDigest == SettingsDigest.sha256(of: expected))
        #expect(pump.settingsDigest == SettingsDigest.sha256(of: expected))
        #expect(try self.fixture.runtime().state == pump.state)
        let mode: PumpMode =
            switch commands[index] {
            case .change(.suspend): [.suspended]
            case .lockoutStart: [.lockedOut, .suspended]
            default: []
            }
        #expect(ack.mode == mode)
    }
}

@Suite("Pump state file: corruption is refused, never guessed around")
struct PumpStateFileTests {
    let fixture: RuntimeFixture

    init() throws { self.fixture = try RuntimeFixture() }

    func stateBytes() throws -> [UInt8] {
        let pump = try self.fixture.runtime()
        _ = try self.fixture.send(try self.fixture.command(RuntimeFixture.bolus, sequence: 4), to: pump)
        return Array(try Data(contentsOf: URL(fileURLWithPath: self.fixture.statePath)))
    }

    func startCode(with bytes: [UInt8]) throws -> PumpRuntimeError.Code? {
        try Data(bytes).write(to: URL(fileURLWithPath: self.fixture.statePath))
        do {
            _ = try self.fixture.runtime()
            return nil
        } catch let error as PumpRuntimeError {
            return error.code
        }
    }

    @Test("a flipped byte anywhere in the state file is refused as stateCorrupt")
    func flippedBytes() throws {
        let bytes = try self.stateBytes()
        for index in bytes.indices {
            var corrupt = bytes
            corrupt[index] ^= 0x20
            let code = try self.startCode(with: corrupt)
            #expect(code == .stateCorrupt || (index == 4 && code == .stateUnsupportedVersion), "byte \(index)")
        }
    }

    @Test("a truncated state file is refused as stateCorrupt")
    func truncated() throws {
        let bytes = try self.stateBytes()
        for length in [0, 1, 10, bytes.count / 2, bytes.count - 1] {
            #expect(try self.startCode(with: Array(bytes.prefix(length))) == .stateCorrupt, "length \(length)")
        }
    }

    /// `bytes` with its checksum recomputed: what a buggy or hostile writer would leave.
    func resealed(_ bytes: [UInt8]) -> [UInt8] {
        let body = Array(bytes.dropLast(32))
        return body + Array(SHA256.hash(data: body))
    }

    @Test("a well-sealed file of another format version is refused as stateUnsupportedVersion")
    func otherVersion() throws {
        var bytes = try self.stateBytes()
        bytes[4] = 2
        #expect(try self.startCode(with: self.resealed(bytes)) == .stateUnsupportedVersion)
    }

    @Test("a well-sealed file with impossible values is refused as stateCorrupt")
    func impossibleValues() throws {
        let bytes = try self.stateBytes()
        let serialLength = Int(bytes[5])
        var lastAboveHighWater = bytes
        lastAboveHighWater[6 + serialLength + 15] = 9  // last applied 9 > high-water 4
        #expect(try self.startCode(with: self.resealed(lastAboveHighWater)) == .stateCorrupt)
        var flags = bytes
        flags[6 + serialLength + 16] = 0b1000
        #expect(try self.startCode(with: self.resealed(flags)) == .stateCorrupt)
    }

    @Test("another pump's state file is refused as stateWrongPump")
    func otherPump() throws {
        let bytes = try self.stateBytes()
        var other = bytes
        other[6 + RuntimeFixture.serial.utf8.count - 1] = UInt8(ascii: "2")  // PUMP-0002
        #expect(try self.startCode(with: self.resealed(other)) == .stateWrongPump)
    }
}
