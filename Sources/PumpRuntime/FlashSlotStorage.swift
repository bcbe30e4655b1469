/// A flash part with two equal slots for the pump state, as the firmware's platform gives it
/// (on QEMU: a region of the emulated flash, see firmware-profile/). Erased bytes read 0xFF.
public protocol PumpFlashSlots: AnyObject {
    /// Bytes in each slot (the erase unit).
    var slotSize: Int { get }
    /// `count` bytes of `slot` (0 or 1) from `offset`.
    func read(slot: Int, offset: Int, count: Int) -> [UInt8]
    /// Erases `slot` and programs `bytes` at its start; false when the part reports a failure.
    func eraseAndProgram(slot: Int, _ bytes: [UInt8]) -> Bool
}

/// The pump state in two flash slots with a torn-write-safe switch. Every write goes to the
/// slot that does not hold the newest valid record, with the next generation number, so a
/// power loss in the middle of a write (erase done, program half done) leaves the previous
/// record intact in the other slot. At load the valid slot with the higher generation wins.
///
/// A slot, all integers big-endian:
///
/// | offset | size | field                                              |
/// |--------|------|----------------------------------------------------|
/// | 0      | 4    | magic "MTSL"                                       |
/// | 4      | 8    | generation u64 (1 for the first record written)    |
/// | 12     | 4    | n, record length u32                               |
/// | 16     | n    | the record (``PumpStateFile``'s bytes)             |
/// | 16+n   | 32   | SHA-256 of every byte before it                    |
///
/// A slot whose header is all 0xFF is erased (empty). Both slots empty: nothing was ever
/// stored. No valid slot while one is not empty: an error, never a start from defaults.
public final class FlashSlotStorage: PumpStateStorage {
    static let magic: [UInt8] = Array("MTSL".utf8)
    static let headerLength = 16
    static let checksumLength = 32

    private let flash: any PumpFlashSlots
    /// The slot holding the newest valid record and its generation, once known.
    private var active: (slot: Int, generation: UInt64)?
    private var scanned = false

    public init(flash: any PumpFlashSlots) { self.flash = flash }

    public var location: String { "flash slots" }

    /// What one slot holds. (Not Equatable: comparing its String would bring Unicode
    /// normalization into the firmware.)
    enum Slot {
        case erased
        case invalid(String)
        case valid(generation: UInt64, record: [UInt8])

        var isErased: Bool {
            if case .erased = self { return true }
            return false
        }
    }

    public func load() throws(PumpRuntimeError) -> [UInt8]? {
        let slots = [self.readSlot(0), self.readSlot(1)]
        self.scanned = true
        self.active = nil
        var newest: [UInt8]?
        for (index, slot) in slots.enumerated() {
            if case .valid(let generation, let record) = slot, generation > (self.active?.generation ?? 0) {
                self.active = (index, generation)
                newest = record
            }
        }
        if let newest { return newest }
        if slots[0].isErased && slots[1].isErased { return nil }
        throw PumpRuntimeError(
            .stateCorrupt,
            "neither flash slot holds a valid pump state (slot 0: \(Self.describe(slots[0])), slot 1: "
                + "\(Self.describe(slots[1]))); the pump will not guess its state: restore it, or erase both "
                + "slots only if this pump must start over from factory settings and sequence 0"
        )
    }

    public func store(_ record: [UInt8]) throws(PumpRuntimeError) {
        if !self.scanned { _ = try? self.load() }
        let target = self.active.map { 1 - $0.slot } ?? 0
        let generation = (self.active?.generation ?? 0) + 1
        var bytes = Self.magic
        PumpStateFile.appendBigEndian(generation, width: 8, to: &bytes)
        PumpStateFile.appendBigEndian(UInt64(record.count), width: 4, to: &bytes)
        bytes += record
        bytes += PumpCrypto.sha256(bytes)
        guard bytes.count <= self.flash.slotSize else {
            throw PumpRuntimeError(
                .stateIOFailed,
                "the pump state (\(bytes.count) bytes with its slot header) exceeds a flash slot "
                    + "(\(self.flash.slotSize) bytes)"
            )
        }
        guard self.flash.eraseAndProgram(slot: target, bytes),
            case .valid(generation, let readBack) = self.readSlot(target), readBack == record
        else {
            throw PumpRuntimeError(.stateIOFailed, "programming flash slot \(target) failed or did not read back")
        }
        self.active = (target, generation)
    }

    func readSlot(_ slot: Int) -> Slot {
        let header = self.flash.read(slot: slot, offset: 0, count: Self.headerLength)
        if header.allSatisfy({ $0 == 0xFF }) { return .erased }
        guard header.starts(with: Self.magic) else { return .invalid("no slot header") }
        let generation = header[4..<12].reduce(0) { $0 << 8 | UInt64($1) }
        let length = Int(header[12..<16].reduce(0) { $0 << 8 | UInt64($1) })
        guard length <= self.flash.slotSize - Self.headerLength - Self.checksumLength else {
            return .invalid("length past the slot")
        }
        let rest = self.flash.read(slot: slot, offset: Self.headerLength, count: length + Self.checksumLength)
        let record = Array(rest[0..<length])
        guard PumpCrypto.sha256(header + record) == Array(rest[length...]) else {
            return .invalid("checksum mismatch, a torn write")
        }
        return .valid(generation: generation, record: record)
    }

    private static func describe(_ slot: Slot) -> String {
        switch slot {
        case .erased: return "erased"
        case .invalid(let why): return why
        case .valid(let generation, _): return "generation \(generation)"
        }
    }
}

@available(*, unavailable)
extension FlashSlotStorage: Sendable {}
