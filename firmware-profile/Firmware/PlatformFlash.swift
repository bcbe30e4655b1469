import FirmwarePlatform
import PumpRuntime

/// The board's state flash (two erased slots reserved by the linker script) as the runtime's
/// ``PumpFlashSlots``: ``FlashSlotStorage`` does the torn-write-safe switch on top.
final class PlatformFlash: PumpFlashSlots {
    var slotSize: Int { fw_flash_slot_size() }

    func read(slot: Int, offset: Int, count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBufferPointer { fw_flash_read(Int32(slot), offset, $0.baseAddress, count) }
        return bytes
    }

    func eraseAndProgram(slot: Int, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { fw_flash_program(Int32(slot), $0.baseAddress, $0.count) } == 1
    }
}
