/// Where a pump keeps its state record (``PumpStateFile``'s bytes) across a power loss: the
/// seam between the command core and the device. On Linux (`pump-sim`) it is a file replaced
/// atomically (``PumpStateFileStorage``); on the firmware, two flash slots with a torn-write-safe
/// switch (``FlashSlotStorage``). Either way, `store` returns only once the record is durable,
/// and after a crash `load` yields the old record or the new one, never a mix.
///
/// Class-bound so that Embedded Swift can hold it as an existential.
public protocol PumpStateStorage: AnyObject {
    /// Names the storage in errors ("STATE/PUMP-0001.state", "flash slots").
    var location: String { get }
    /// The stored record, or nil when nothing was ever stored (a new pump). Storage that
    /// holds something unreadable throws: the pump never starts from defaults over it.
    func load() throws(PumpRuntimeError) -> [UInt8]?
    /// Replaces the stored record durably.
    func store(_ record: [UInt8]) throws(PumpRuntimeError)
}
