import CommandAuthority
import Crypto
import Foundation
import PumpRuntime
import Testing
import TherapyModel
import TunnelProtocol

@Suite("Pump runtime: every refusal path with its code")
struct PumpRefusalTests {
    let fixture: RuntimeFixture

    init() throws { self.fixture = try RuntimeFixture() }

    @Test("a bolus within limits is applied, acknowledged with a signature swift-crypto verifies, and persisted")
    func applied() throws {
        let runtime = try self.fixture.runtime()
        let command = try self.fixture.command(RuntimeFixture.bolus, sequence: 1)
        let signed = runtime.handle(commandBody: command.encoded, now: RuntimeFixture.now)
        let ack = try self.fixture.verified(signed, answering: command)
        #expect(ack.result == .applied)
        #expect(ack.serial == RuntimeFixture.serial)
        #expect(ack.lastAppliedSequence == 1)
        #expect(ack.mode == [])
        #expect(ack.pumpTime == RuntimeFixture.now)
        #expect(ack.settingsDigest == SettingsDigest.sha256(of: RuntimeFixture.factory))
        #expect(try self.fixture.runtime().state.highWaterSequence == 1)
    }

    @Test("a command signed by another key is refused as badSignature and does not consume its sequence")
    func forgedSignature() throws {
        let runtime = try self.fixture.runtime()
        let forger = try CommandSigner(privateKeyPEM: P256.Signing.PrivateKey().pemRepresentation)
        let forged = try self.fixture.command(RuntimeFixture.bolus, sequence: 1, signer: forger)
        #expect(try self.fixture.send(forged, to: runtime) == .refused(.badSignature))
        #expect(runtime.state.highWaterSequence == 0)
        #expect(
            try self.fixture.send(try self.fixture.command(RuntimeFixture.bolus, sequence: 1), to: runtime) == .applied
        )
    }

    @Test("a bit flipped anywhere in a signed envelope is never applied; in the dose it is badSignature")
    func bitFlips() throws {
        let runtime = try self.fixture.runtime()
        let command = try self.fixture.command(RuntimeFixture.bolus, sequence: 1)
        let body = command.encoded
        for bit in 0..<(body.count * 8) {
            var flipped = body
            flipped[bit / 8] ^= 1 << UInt8(bit % 8)
            let ack = runtime.handle(commandBody: flipped, now: RuntimeFixture.now).acknowledgement
            #expect(ack.result == .refused(.badSignature) || ack.result == .refused(.malformed), "bit \(bit)")
        }
        #expect(runtime.state.highWaterSequence == 0)
        // The last byte of the 4-byte amount: 2.000 U becomes 2.001 U, still a valid envelope.
        var dose = body
        dose[command.envelope.fieldBytes.count - 1] ^= 0x01
        #expect(
            runtime.handle(commandBody: dose, now: RuntimeFixture.now).acknowledgement.result == .refused(.badSignature)
        )
    }

    @Test("a command for another pump is refused as wrongSerial")
    func wrongSerial() throws {
        let runtime = try self.fixture.runtime()
        let command = try self.fixture.command(RuntimeFixture.bolus, sequence: 1, serial: RuntimeFixture.otherSerial)
        #expect(try self.fixture.send(command, to: runtime) == .refused(.wrongSerial))
        #expect(runtime.state.highWaterSequence == 0)
    }

    @Test("the same sequence again, or a lower one, is refused as replayedSequence")
    func replayed() throws {
        let runtime = try self.fixture.runtime()
        let five = try self.fixture.command(RuntimeFixture.bolus, sequence: 5)
        #expect(try self.fixture.send(five, to: runtime) == .applied)
        #expect(try self.fixture.send(five, to: runtime) == .refused(.replayedSequence))
        let four = try self.fixture.command(RuntimeFixture.bolus, sequence: 4)
        #expect(try self.fixture.send(four, to: runtime) == .refused(.replayedSequence))
        #expect(runtime.state.lastAppliedSequence == 5)
    }

    @Test("a command at or past its expiry is refused as expired, and its sequence is spent")
    func expired() throws {
        let runtime = try self.fixture.runtime()
        let command = try self.fixture.command(RuntimeFixture.bolus, sequence: 1)
        #expect(try self.fixture.send(command, to: runtime, at: command.envelope.expiresAt) == .refused(.expired))
        #expect(runtime.state.highWaterSequence == 1)
        #expect(runtime.state.lastAppliedSequence == 0)
        #expect(try self.fixture.send(command, to: runtime) == .refused(.replayedSequence))
    }

    @Test("a command issued beyond the 30 s skew ahead of the pump clock is notYetValid; within it, applied")
    func future() throws {
        let runtime = try self.fixture.runtime()
        let early = RuntimeFixture.now.advanced(byMinutes: -1)
        let command = try self.fixture.command(RuntimeFixture.bolus, sequence: 1)
        #expect(try self.fixture.send(command, to: runtime, at: early) == .refused(.notYetValid))
        let skewed = Timestamp(millisecondsSinceEpoch: RuntimeFixture.now.millisecondsSinceEpoch - 30_000)
        let second = try self.fixture.command(RuntimeFixture.bolus, sequence: 2)
        #expect(try self.fixture.send(second, to: runtime, at: skewed) == .applied)
    }

    @Test(
        "the pump's own hard limits refuse with the violation code",
        arguments: [
            (Int64(10_050), "max_bolus_exceeded"), (Int64(2_025), "pump_increment_mismatch"),
            (Int64(0), "amount_not_positive"),
        ]
    )
    func hardLimit(milliunits: Int64, code: String) throws {
        let runtime = try self.fixture.runtime()
        let command = try self.fixture.command(.change(.bolus(Milliunits(milliunits))), sequence: 1)
        guard case .refused(.hardLimit(let violation)) = try self.fixture.send(command, to: runtime) else {
            Issue.record("expected a hard-limit refusal")
            return
        }
        #expect(violation.rawValue == code)
        #expect(runtime.state.highWaterSequence == 1)
    }

    @Test("a lockout refuses changes as lockedOut; lockout commands still apply; a lift restores changes")
    func lockout() throws {
        let runtime = try self.fixture.runtime()
        let start = try self.fixture.command(.lockoutStart(suspendDelivery: false), sequence: 1)
        let ack = try self.fixture.verified(
            runtime.handle(commandBody: start.encoded, now: RuntimeFixture.now),
            answering: start
        )
        #expect(ack.result == .applied)
        #expect(ack.mode == [.lockedOut])
        let bolus = try self.fixture.command(RuntimeFixture.bolus, sequence: 2)
        #expect(try self.fixture.send(bolus, to: runtime) == .refused(.lockedOut))
        let suspend = try self.fixture.command(.lockoutStart(suspendDelivery: true), sequence: 3)
        let suspended = runtime.handle(commandBody: suspend.encoded, now: RuntimeFixture.now).acknowledgement
        #expect(suspended.result == .applied)
        #expect(suspended.mode == [.lockedOut, .suspended])
        #expect(try self.fixture.runtime().state.lockout == .active(suspendsDelivery: true))
        #expect(try self.fixture.send(try self.fixture.command(.lockoutLift, sequence: 4), to: runtime) == .applied)
        #expect(runtime.state.mode == [])
        #expect(
            try self.fixture.send(try self.fixture.command(RuntimeFixture.bolus, sequence: 5), to: runtime) == .applied
        )
    }

    @Test("bytes that are no envelope are refused as malformed with sequence 0")
    func malformed() throws {
        let runtime = try self.fixture.runtime()
        let command = try self.fixture.command(RuntimeFixture.bolus, sequence: 1)
        for body in [[UInt8](repeating: 0x42, count: 120), Array(command.encoded.dropLast()), []] {
            let signed = runtime.handle(commandBody: body, now: RuntimeFixture.now)
            let ack = try AcknowledgementVerifier(pumpCertificatePEM: RuntimeFixture.pki.certificatePEM).verify(signed)
            #expect(ack.result == .refused(.malformed))
            #expect(ack.sequence == 0)
            #expect(ack.commandDigest == Array(SHA256.hash(data: body)))
        }
        #expect(runtime.state.highWaterSequence == 0)
    }

    @Test("a state write that fails refuses with storageFailed, and keeps refusing until restart")
    func storageFailure() throws {
        let runtime = try self.fixture.runtime()
        try FileManager.default.removeItem(at: self.fixture.stateDirectory)
        let first = try self.fixture.command(RuntimeFixture.bolus, sequence: 1)
        #expect(try self.fixture.send(first, to: runtime) == .refused(.storageFailed))
        #expect(runtime.storageFailed)
        #expect(runtime.state.highWaterSequence == 0)
        try FileManager.default.createDirectory(at: self.fixture.stateDirectory, withIntermediateDirectories: true)
        let second = try self.fixture.command(RuntimeFixture.bolus, sequence: 2)
        #expect(try self.fixture.send(second, to: runtime) == .refused(.storageFailed))
    }
}
