public import TherapyModel

/// The one canonical byte form of `TherapySettings`, shared by the pump and the gateway:
/// the settings digest in hellos and acknowledgements is SHA-256 of
/// `"MedTunnel settings v1\0" ‖ canonicalBytes`, and the pump's state file stores the
/// canonical bytes themselves. The pump hashes with mbedTLS, the gateway with swift-crypto;
/// this module only defines the bytes, so both hash the same thing.
///
/// | field                   | encoding                                                  |
/// |-------------------------|-----------------------------------------------------------|
/// | version                 | u8, 1                                                     |
/// | basal schedule          | schedule of rate i64 mU/h                                 |
/// | maximum basal rate      | i64 mU/h                                                  |
/// | maximum bolus           | i64 mU                                                    |
/// | carb ratio schedule     | schedule of i64 g/U                                       |
/// | sensitivity schedule    | schedule of i64 mg/dL/U                                   |
/// | correction range sched. | schedule of lower i64, upper i64 mg/dL                    |
/// | suspend threshold       | i64 mg/dL                                                 |
///
/// A schedule is a count u8 (1…48), then per entry its start minute u16 and its value(s).
/// Values are full 64-bit (unlike the command payload) so that any settings value the
/// model can hold has a digest. The digest covers the stored settings only; the lockout and
/// suspension state travel beside it as `PumpMode`.
public enum SettingsDigest {
    public static let formatVersion: UInt8 = 1
    public static let context: [UInt8] = Array("MedTunnel settings v1".utf8) + [0]

    /// The canonical bytes of `settings`.
    public static func canonicalBytes(of settings: TherapySettings) -> [UInt8] {
        var writer = ByteWriter()
        writer.append(Self.formatVersion)
        // The wide layout carries every Int64, so these never throw.
        try! writer.appendSchedule(settings.basalSchedule, .wide) { [$0.rawValue] }
        writer.append(settings.maxBasalRate.rawValue)
        writer.append(settings.maxBolus.rawValue)
        try! writer.appendSchedule(settings.carbRatioSchedule, .wide) { [$0.gramsPerUnit] }
        try! writer.appendSchedule(settings.sensitivitySchedule, .wide) { [$0.mgdLPerUnit] }
        try! writer.appendSchedule(settings.correctionRangeSchedule, .wide) { [$0.lower.rawValue, $0.upper.rawValue] }
        writer.append(settings.suspendThreshold.rawValue)
        return writer.bytes
    }

    /// What to hash for the digest: the context, then the canonical bytes.
    public static func message(for settings: TherapySettings) -> [UInt8] {
        Self.context + Self.canonicalBytes(of: settings)
    }

    /// Reads canonical bytes back (the pump's state file). Throws `badLength` or
    /// `invalidField` for anything that is not exactly one canonical encoding.
    public static func decode(_ bytes: ArraySlice<UInt8>) throws(TunnelProtocolError) -> TherapySettings {
        var reader = ByteReader(bytes)
        try reader.need(1, "settings version")
        let version = reader.readUInt8()
        guard version == Self.formatVersion else {
            throw TunnelProtocolError(.unsupportedVersion, "settings format version \(version); expected 1")
        }
        let basal = try reader.readSchedule(.wide, values: 1) { MilliunitsPerHour($0[0]) }
        try reader.need(16, "maximum basal and bolus")
        let maxBasal = MilliunitsPerHour(reader.readInt64())
        let maxBolus = Milliunits(reader.readInt64())
        let carbRatios = try reader.readSchedule(.wide, values: 1) { CarbRatio(gramsPerUnit: $0[0]) }
        let sensitivities = try reader.readSchedule(.wide, values: 1) { InsulinSensitivity(mgdLPerUnit: $0[0]) }
        let ranges = try reader.readSchedule(.wide, values: 2) {
            try? CorrectionRange(lower: GlucoseMgdL($0[0]), upper: GlucoseMgdL($0[1]))
        }
        guard reader.remaining == 8 else {
            throw TunnelProtocolError(.badLength, "settings end with \(reader.remaining) bytes instead of 8")
        }
        return TherapySettings(
            basalSchedule: basal,
            maxBasalRate: maxBasal,
            maxBolus: maxBolus,
            carbRatioSchedule: carbRatios,
            sensitivitySchedule: sensitivities,
            correctionRangeSchedule: ranges,
            suspendThreshold: GlucoseMgdL(reader.readInt64())
        )
    }
}
