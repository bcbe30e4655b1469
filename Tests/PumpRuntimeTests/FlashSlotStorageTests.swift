import PumpRuntime
import Testing
import TherapyModel
import TunnelProtocol

/// Two flash slots in memory, erased to 0xFF, with a power loss that can be armed to cut the
/// next program after a given number of bytes (the erase done, the rest left erased), or a
/// part that reports a failure.
final class InMemoryFlash: PumpFlashSlots {
    let slotSize: Int
    var slots: [[UInt8]]
    /// The next `eraseAndProgram` writes only this many bytes, then "loses power".
    var tearNextProgram: Int?
    var failPrograms = false

    init(slotSize: Int = 4096) {
        self.slotSize = slotSize
        self.slots = Array(repeating: Array(repeating: 0xFF, count: slotSize), count: 2)
    }

    func read(slot: Int, offset: Int, count: Int) -> [UInt8] { Array(self.slots[slot][offset..<(offset + count)]) }

    func eraseAndProgram(slot: Int, _ bytes: [UInt8]) -> Bool {
        if self.failPrograms { return false }
        self.slots[slot] = Array(repeating: 0xFF, count: self.slotSize)
        let written = min(bytes.count, self.tearNextProgram ?? bytes.count)
        self.slots[slot].replaceSubrange(0..<written, with: bytes[0..<written])
        self.tearNextProgram = nil
        return true
    }
}

/// The code of the PumpRuntimeError `body` throws, nil when it throws nothing (or another error).
func code<T>(_ body: () throws -> T) -> PumpRuntimeError.Code? {
    do {
        _ = try body()
        return nil
    } catch {
        return (error as? PumpRuntimeError)?.code
    }
}

@Suite("Flash slot storage: two slots, the newer valid one wins, a torn write falls back")
struct FlashSlotStorageTests {
    static let recordA: [UInt8] = Array("state A".utf8)
    static let recordB: [UInt8] = Array("state B, a little longer".utf8)
    static let recordC: [UInt8] = Array(repeating: 0x42, count: 300)

    @Test("erased flash holds nothing; writes alternate slots and a fresh reader sees the newest")
    func alternates() throws {
        let flash = InMemoryFlash()
        #expect(try FlashSlotStorage(flash: flash).load() == nil)
        let storage = FlashSlotStorage(flash: flash)
        try storage.store(Self.recordA)
        try storage.store(Self.recordB)
        try storage.store(Self.recordC)
        // A (generation 1) → slot 0, B (2) → slot 1, C (3) → slot 0 again.
        #expect(flash.slots[0].starts(with: Array("MTSL".utf8)) && flash.slots[1].starts(with: Array("MTSL".utf8)))
        #expect(try FlashSlotStorage(flash: flash).load() == Self.recordC)
    }

    @Test("a power loss while writing the newer slot, at any byte, falls back to the older valid record")
    func tornWriteFallsBack() throws {
        let flash = InMemoryFlash()
        let storage = FlashSlotStorage(flash: flash)
        try storage.store(Self.recordA)
        try storage.store(Self.recordB)
        let saved = flash.slots
        let fullLength = 16 + Self.recordC.count + 32
        for cut in 0..<fullLength {
            flash.slots = saved
            flash.tearNextProgram = cut
            // The write "succeeds" from the writer's view up to the power loss; a restart reads
            // the slots again: never the torn record, always B.
            let writer = FlashSlotStorage(flash: flash)
            _ = try? writer.store(Self.recordC)
            #expect(try FlashSlotStorage(flash: flash).load() == Self.recordB, "cut after \(cut) bytes")
        }
    }

    @Test("after a torn write the next write goes to the torn slot, never over the valid one")
    func writesOverTheTornSlot() throws {
        let flash = InMemoryFlash()
        let storage = FlashSlotStorage(flash: flash)
        try storage.store(Self.recordA)  // slot 0
        try storage.store(Self.recordB)  // slot 1
        flash.tearNextProgram = 20
        _ = try? storage.store(Self.recordC)  // slot 0, torn
        let restarted = FlashSlotStorage(flash: flash)
        #expect(try restarted.load() == Self.recordB)
        try restarted.store(Self.recordC)
        #expect(flash.slots[1].starts(with: Array("MTSL".utf8)))
        #expect(try FlashSlotStorage(flash: flash).load() == Self.recordC)
    }

    @Test("both slots invalid is stateCorrupt naming each slot, never an empty (factory) start")
    func bothInvalid() throws {
        let flash = InMemoryFlash()
        let storage = FlashSlotStorage(flash: flash)
        try storage.store(Self.recordA)
        try storage.store(Self.recordB)
        flash.slots[0][20] ^= 0x01
        flash.slots[1][17] ^= 0x80
        let error = #expect(throws: PumpRuntimeError.self) { try FlashSlotStorage(flash: flash).load() }
        #expect(error?.code == .stateCorrupt)
        #expect(error?.reason.contains("slot 0: checksum mismatch") == true)
        #expect(error?.reason.contains("slot 1: checksum mismatch") == true)
    }

    @Test("one torn slot and one erased slot is stateCorrupt too (the first write was cut)")
    func tornAndErased() throws {
        let flash = InMemoryFlash()
        flash.tearNextProgram = 10
        _ = try? FlashSlotStorage(flash: flash).store(Self.recordA)
        let error = #expect(throws: PumpRuntimeError.self) { try FlashSlotStorage(flash: flash).load() }
        #expect(error?.code == .stateCorrupt)
    }

    @Test("a failing part or a record larger than a slot is stateIOFailed, and the old record stays")
    func writeFailures() throws {
        let flash = InMemoryFlash(slotSize: 256)
        let storage = FlashSlotStorage(flash: flash)
        try storage.store(Self.recordA)
        #expect(code { try storage.store(Self.recordC) } == .stateIOFailed)
        flash.failPrograms = true
        #expect(code { try storage.store(Self.recordB) } == .stateIOFailed)
        #expect(try FlashSlotStorage(flash: flash).load() == Self.recordA)
    }
}

@Suite("Pump runtime on flash slots: the firmware's storage, the same behaviour as the state file")
struct PumpRuntimeOnFlashTests {
    func configuration() -> PumpRuntime.Configuration {
        PumpRuntime.Configuration(
            serial: RuntimeFixture.serial,
            model: RuntimeFixture.model,
            commandPublicKeyPEM: RuntimeFixture.pki.commandPublicKeyPEM,
            deviceKeyPEM: RuntimeFixture.pki.deviceKeyPEM
        )
    }

    func runtime(on flash: InMemoryFlash) throws -> PumpRuntime {
        try PumpRuntime(
            self.configuration(),
            storage: FlashSlotStorage(flash: flash),
            factorySettings: RuntimeFixture.factory
        )
    }

    @Test("a bolus applied on flash survives a restart; a power loss in the next write keeps it; replays refused")
    func survivesRestartAndTornWrite() throws {
        let fixture = try RuntimeFixture()
        let flash = InMemoryFlash()
        let pump = try self.runtime(on: flash)
        let bolus = try fixture.command(RuntimeFixture.bolus, sequence: 1)
        #expect(try fixture.send(bolus, to: pump) == .applied)

        // The power fails while the next command's state is being programmed.
        flash.tearNextProgram = 30
        let change = try fixture.command(.change(.setMaxBolus(Milliunits(8_000))), sequence: 2)
        _ = pump.handle(commandBody: change.encoded, now: RuntimeFixture.now)

        let restarted = try self.runtime(on: flash)
        #expect(restarted.state.highWaterSequence == 1)
        #expect(restarted.state.lastAppliedSequence == 1)
        #expect(try fixture.send(bolus, to: restarted) == .refused(.replayedSequence))
        #expect(try fixture.send(change, to: restarted) == .applied)
        #expect(try self.runtime(on: flash).state.settings.maxBolus == Milliunits(8_000))
    }

    @Test("flash holding another pump's state is stateWrongPump; corrupt slots stop the pump")
    func refusesForeignOrCorruptState() throws {
        let flash = InMemoryFlash()
        _ = try self.runtime(on: flash)
        var other = self.configuration()
        other.serial = RuntimeFixture.otherSerial
        #expect(
            code {
                try PumpRuntime(other, storage: FlashSlotStorage(flash: flash), factorySettings: RuntimeFixture.factory)
            } == .stateWrongPump
        )
        flash.slots[0][40] ^= 0xFF
        #expect(code { try self.runtime(on: flash) } == .stateCorrupt)
    }
}
