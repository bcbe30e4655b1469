import TherapyModel
import TunnelProtocol

/// The pump's state file, `STATE/SERIAL.state`. All integers big-endian:
///
/// | offset | size | field                                                                  |
/// |--------|------|------------------------------------------------------------------------|
/// | 0      | 4    | magic "MTPS"                                                           |
/// | 4      | 1    | format version, 1                                                      |
/// | 5      | 1    | n, serial length                                                       |
/// | 6      | n    | the pump serial (a file copied from another pump is refused)           |
/// | 6+n    | 8    | high-water sequence u64                                                |
/// | 14+n   | 8    | last applied sequence u64 (≤ high-water)                               |
/// | 22+n   | 1    | flags: bit 0 locked out, bit 1 the lockout suspends delivery, bit 2 suspended by command |
/// | 23+n   | 2    | s, settings length u16                                                 |
/// | 25+n   | s    | the settings in `SettingsDigest`'s canonical form                      |
/// | 25+n+s | 32   | SHA-256 of every byte before it                                        |
///
/// Kept by a ``PumpStateStorage``: on Linux the file is written whole to `.SERIAL.state.tmp`,
/// fsync'd, renamed over the old file, then the directory fsync'd; on the firmware it is the
/// payload of a flash slot. After a crash the record is the old state or the new one, never a
/// mix. A record that fails any check is an error, never a reason to start from defaults.
enum PumpStateFile {
    static let magic: [UInt8] = Array("MTPS".utf8)
    static let formatVersion: UInt8 = 1
    static let checksumLength = 32
    /// Far above the largest state (about 2.5 KiB): anything bigger is not a state file.
    static let maximumLength = 16 * 1024

    static func encode(_ state: PumpState, serial: String) -> [UInt8] {
        var bytes = Self.magic
        bytes.append(Self.formatVersion)
        let serialBytes = Array(serial.utf8)
        bytes.append(UInt8(serialBytes.count))
        bytes += serialBytes
        appendBigEndian(state.highWaterSequence, width: 8, to: &bytes)
        appendBigEndian(state.lastAppliedSequence, width: 8, to: &bytes)
        var flags: UInt8 = 0
        if case .active(let suspends) = state.lockout { flags |= suspends ? 0b011 : 0b001 }
        if state.suspendedByCommand { flags |= 0b100 }
        bytes.append(flags)
        let settings = SettingsDigest.canonicalBytes(of: state.settings)
        appendBigEndian(UInt64(settings.count), width: 2, to: &bytes)
        bytes += settings
        bytes += PumpCrypto.sha256(bytes)
        return bytes
    }

    static func decode(_ bytes: [UInt8], serial: String, path: String) throws(PumpRuntimeError) -> PumpState {
        func corrupt(_ what: String) -> PumpRuntimeError {
            PumpRuntimeError(
                .stateCorrupt,
                "\(path) is corrupt (\(what)); the pump will not guess its state: restore the file from a "
                    + "backup, or remove it only if this pump must start over from factory settings and "
                    + "sequence 0"
            )
        }
        guard bytes.count >= Self.magic.count + 2 + Self.checksumLength, bytes.starts(with: Self.magic) else {
            throw corrupt("not a MedTunnel pump state file")
        }
        let body = Array(bytes.dropLast(Self.checksumLength))
        guard PumpCrypto.sha256(body) == Array(bytes.suffix(Self.checksumLength)) else {
            throw corrupt("checksum mismatch")
        }
        guard bytes[4] == Self.formatVersion else {
            throw PumpRuntimeError(
                .stateUnsupportedVersion,
                "\(path) has state format \(bytes[4]); this runtime reads format \(Self.formatVersion)"
            )
        }
        var index = 6
        let serialLength = Int(body[5])
        func read(_ width: Int) -> UInt64? {
            guard index + width <= body.count else { return nil }
            defer { index += width }
            return body[index..<(index + width)].reduce(0) { $0 << 8 | UInt64($1) }
        }
        guard index + serialLength <= body.count else { throw corrupt("serial runs past the end") }
        let fileSerial = String(decoding: body[index..<(index + serialLength)], as: UTF8.self)
        index += serialLength
        // Byte equality (serials are ASCII): no Unicode normalization on the firmware.
        guard fileSerial.utf8.elementsEqual(serial.utf8) else {
            throw PumpRuntimeError(.stateWrongPump, "\(path) belongs to pump \(fileSerial), not \(serial)")
        }
        guard let highWater = read(8), let lastApplied = read(8), let flags = read(1), let length = read(2),
            index + Int(length) == body.count
        else { throw corrupt("lengths do not add up") }
        guard lastApplied <= highWater, flags & ~0b111 == 0, flags & 0b010 == 0 || flags & 0b001 != 0 else {
            throw corrupt("impossible sequence or flag values")
        }
        let settings: TherapySettings
        do {
            settings = try SettingsDigest.decode(body[index...])
        } catch {
            throw corrupt("settings: \(error.reason)")
        }
        return PumpState(
            settings: settings,
            lockout: flags & 0b001 == 0 ? .none : .active(suspendsDelivery: flags & 0b010 != 0),
            suspendedByCommand: flags & 0b100 != 0,
            highWaterSequence: highWater,
            lastAppliedSequence: lastApplied
        )
    }

    static func appendBigEndian(_ value: UInt64, width: Int, to bytes: inout [UInt8]) {
        for shift in stride(from: (width - 1) * 8, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }
}
