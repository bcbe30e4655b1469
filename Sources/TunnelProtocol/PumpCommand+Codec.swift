import TherapyModel

extension PumpCommand {
    /// Writes the payload (without kind or length); throws `invalidField` for a value the
    /// wire format cannot carry (negative, or above its field's width).
    func encodePayload(into writer: inout ByteWriter) throws(TunnelProtocolError) {
        switch self {
        case .change(let change):
            switch change {
            case .setBasalSchedule(let schedule):
                try writer.appendSchedule(schedule, .compact, field: "basal schedule") { [$0.rawValue] }
            case .tempBasal(let rate, let minutes):
                writer.append(try Self.u32(rate.rawValue, "temporary basal rate"))
                guard let duration = UInt16(exactly: minutes) else {
                    throw TunnelProtocolError(.invalidField, "temporary basal duration \(minutes) min does not fit u16")
                }
                writer.append(duration)
            case .bolus(let amount):
                writer.append(try Self.u32(amount.rawValue, "bolus"))
            case .setMaxBasal(let rate):
                writer.append(try Self.u32(rate.rawValue, "maximum basal rate"))
            case .setMaxBolus(let amount):
                writer.append(try Self.u32(amount.rawValue, "maximum bolus"))
            case .setCarbRatios(let schedule):
                try writer.appendSchedule(schedule, .compact, field: "carb ratio schedule") { [$0.gramsPerUnit] }
            case .setSensitivities(let schedule):
                try writer.appendSchedule(schedule, .compact, field: "sensitivity schedule") { [$0.mgdLPerUnit] }
            case .setCorrectionRange(let schedule):
                try writer.appendSchedule(schedule, .compact, field: "correction range schedule") {
                    [$0.lower.rawValue, $0.upper.rawValue]
                }
            case .setSuspendThreshold(let threshold):
                writer.append(try Self.u32(threshold.rawValue, "suspend threshold"))
            case .suspend, .resume:
                break
            }
        case .lockoutStart(let suspendDelivery):
            writer.append(suspendDelivery ? UInt8(1) : 0)
        case .lockoutLift:
            break
        }
    }

    /// Reads a payload whose length `kind.allows` already accepted.
    static func decodePayload(
        kind: CommandKind,
        _ payload: ArraySlice<UInt8>
    ) throws(TunnelProtocolError) -> PumpCommand {
        var reader = ByteReader(payload)
        let command = try Self.readPayload(kind: kind, &reader)
        guard reader.remaining == 0 else {
            throw TunnelProtocolError(.badLength, "a \(kind) payload has \(reader.remaining) bytes left over")
        }
        return command
    }

    private static func readPayload(
        kind: CommandKind,
        _ reader: inout ByteReader
    ) throws(TunnelProtocolError) -> PumpCommand {
        switch kind {
        case .setBasalSchedule:
            return .change(.setBasalSchedule(try reader.readSchedule(.compact, values: 1) { MilliunitsPerHour($0[0]) }))
        case .tempBasal:
            let rate = MilliunitsPerHour(Int64(reader.readUInt32()))
            return .change(.tempBasal(rate: rate, durationMinutes: Int64(reader.readUInt16())))
        case .bolus:
            return .change(.bolus(Milliunits(Int64(reader.readUInt32()))))
        case .setMaxBasal:
            return .change(.setMaxBasal(MilliunitsPerHour(Int64(reader.readUInt32()))))
        case .setMaxBolus:
            return .change(.setMaxBolus(Milliunits(Int64(reader.readUInt32()))))
        case .setCarbRatios:
            return .change(
                .setCarbRatios(try reader.readSchedule(.compact, values: 1) { CarbRatio(gramsPerUnit: $0[0]) })
            )
        case .setSensitivities:
            let schedule = try reader.readSchedule(.compact, values: 1) { InsulinSensitivity(mgdLPerUnit: $0[0]) }
            return .change(.setSensitivities(schedule))
        case .setCorrectionRange:
            let schedule = try reader.readSchedule(.compact, values: 2) { values in
                try? CorrectionRange(lower: GlucoseMgdL(values[0]), upper: GlucoseMgdL(values[1]))
            }
            return .change(.setCorrectionRange(schedule))
        case .setSuspendThreshold:
            return .change(.setSuspendThreshold(GlucoseMgdL(Int64(reader.readUInt32()))))
        case .suspend:
            return .change(.suspend)
        case .resume:
            return .change(.resume)
        case .lockoutStart:
            let flags = reader.readUInt8()
            guard flags & ~1 == 0 else {
                throw TunnelProtocolError(.invalidField, "lockout flags 0x\(String(flags, radix: 16)) set unknown bits")
            }
            return .lockoutStart(suspendDelivery: flags == 1)
        case .lockoutLift:
            return .lockoutLift
        }
    }

    static func u32(_ value: Int64, _ field: StaticString) throws(TunnelProtocolError) -> UInt32 {
        guard let narrow = UInt32(exactly: value) else {
            throw TunnelProtocolError(.invalidField, "\(field) \(value) is outside 0…4294967295 and cannot be sent")
        }
        return narrow
    }
}
