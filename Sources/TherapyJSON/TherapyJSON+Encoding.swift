public import Foundation
public import TherapyModel

/// Canonical JSON for stored and audited values: the formats the decoders read, compact, with
/// sorted keys. `change(from: encode(c)) == c` for every change (likewise for prescriptions, pump
/// models and settings), and equal values always encode to equal bytes, so stored bodies compare by bytes.
extension TherapyJSON {
    public static func encode(_ change: SettingChange) -> Data {
        self.object(change).data
    }

    public static func encode(_ prescription: Prescription) -> Data {
        var members: [String: CanonicalJSON] = [
            "patientId": .string(prescription.patientID),
            "maxBolusMilliunits": .int(prescription.maxBolus.rawValue),
            "maxBasalRateMilliunitsPerHour": .int(prescription.maxBasalRate.rawValue),
            "maxDailyTotalMilliunits": .int(prescription.maxDailyTotal.rawValue),
            "carbRatioGramsPerUnit": self.range(
                prescription.carbRatioRange.lowerBound.gramsPerUnit,
                prescription.carbRatioRange.upperBound.gramsPerUnit
            ),
            "sensitivityMgdLPerUnit": self.range(
                prescription.sensitivityRange.lowerBound.mgdLPerUnit,
                prescription.sensitivityRange.upperBound.mgdLPerUnit
            ),
            "correctionRangeMgdL": self.range(
                prescription.correctionRange.lowerBound.rawValue,
                prescription.correctionRange.upperBound.rawValue
            ),
            "suspendThresholdMgdL": self.range(
                prescription.suspendThresholdRange.lowerBound.rawValue,
                prescription.suspendThresholdRange.upperBound.rawValue
            ),
            "enabledControls": self.controls(prescription.enabledControls),
        ]
        // Written only when set, so prescriptions without them keep their canonical bytes.
        if let kind = InsulinModel.Kind.allCases.first(where: { InsulinModel(kind: $0) == prescription.insulinModel }),
            kind != .rapidActing
        {
            members["insulinType"] = .string(kind.rawValue)
        }
        if let maxIOB = prescription.maxInsulinOnBoard {
            members["maxInsulinOnBoardMilliunits"] = .int(maxIOB.rawValue)
        }
        return CanonicalJSON.object(members).data
    }

    public static func encode(_ model: PumpModel) -> Data {
        CanonicalJSON.object([
            "name": .string(model.name),
            "bolusStepMilliunits": .int(model.bolusStep.rawValue),
            "basalRateStepMilliunitsPerHour": .int(model.basalRateStep.rawValue),
            "maxBolusMilliunits": .int(model.maxBolus.rawValue),
            "maxBasalRateMilliunitsPerHour": .int(model.maxBasalRate.rawValue),
            "maxScheduleEntries": .int(Int64(model.maxScheduleEntries)),
            "minimumSegmentMinutes": .int(Int64(model.minimumSegmentMinutes)),
            "tempBasalDurationStepMinutes": .int(Int64(model.tempBasalDurationStepMinutes)),
            "maxTempBasalDurationMinutes": .int(Int64(model.maxTempBasalDurationMinutes)),
            "supportedControls": self.controls(model.supportedControls),
        ]).data
    }

    /// The format `settings(from:)` reads (`Examples/policy/settings.json`).
    public static func encode(_ settings: TherapySettings) -> Data {
        CanonicalJSON.object([
            "basalSchedule": self.schedule(settings.basalSchedule) { ["milliunitsPerHour": .int($0.rawValue)] },
            "maxBasalRateMilliunitsPerHour": .int(settings.maxBasalRate.rawValue),
            "maxBolusMilliunits": .int(settings.maxBolus.rawValue),
            "carbRatioSchedule": self.schedule(settings.carbRatioSchedule) { ["gramsPerUnit": .int($0.gramsPerUnit)] },
            "sensitivitySchedule": self.schedule(settings.sensitivitySchedule) {
                ["mgdLPerUnit": .int($0.mgdLPerUnit)]
            },
            "correctionRangeSchedule": self.schedule(settings.correctionRangeSchedule) {
                ["lowerMgdL": .int($0.lower.rawValue), "upperMgdL": .int($0.upper.rawValue)]
            },
            "suspendThresholdMgdL": .int(settings.suspendThreshold.rawValue),
        ]).data
    }

    private static func object(_ change: SettingChange) -> CanonicalJSON {
        var members: [String: CanonicalJSON] = ["kind": .string(change.kind.rawValue)]
        switch change {
        case .bolus(let amount), .setMaxBolus(let amount):
            members["milliunits"] = .int(amount.rawValue)
        case .tempBasal(let rate, let minutes):
            members["milliunitsPerHour"] = .int(rate.rawValue)
            members["durationMinutes"] = .int(minutes)
        case .setMaxBasal(let rate):
            members["milliunitsPerHour"] = .int(rate.rawValue)
        case .setBasalSchedule(let schedule):
            members["schedule"] = self.schedule(schedule) { ["milliunitsPerHour": .int($0.rawValue)] }
        case .setCarbRatios(let schedule):
            members["schedule"] = self.schedule(schedule) { ["gramsPerUnit": .int($0.gramsPerUnit)] }
        case .setSensitivities(let schedule):
            members["schedule"] = self.schedule(schedule) { ["mgdLPerUnit": .int($0.mgdLPerUnit)] }
        case .setCorrectionRange(let schedule):
            members["schedule"] = self.schedule(schedule) {
                ["lowerMgdL": .int($0.lower.rawValue), "upperMgdL": .int($0.upper.rawValue)]
            }
        case .setSuspendThreshold(let glucose):
            members["mgdL"] = .int(glucose.rawValue)
        case .suspend, .resume:
            break
        }
        return .object(members)
    }

    private static func schedule<Value>(
        _ schedule: DailySchedule<Value>,
        _ fields: (Value) -> [String: CanonicalJSON]
    ) -> CanonicalJSON {
        .array(
            schedule.entries.map { entry in
                .object(fields(entry.value).merging(["startMinute": .int(Int64(entry.startMinute))]) { $1 })
            }
        )
    }

    private static func range(_ min: Int64, _ max: Int64) -> CanonicalJSON {
        .object(["min": .int(min), "max": .int(max)])
    }

    private static func controls(_ set: ControlSet) -> CanonicalJSON {
        .array(set.kinds.map { .string($0.rawValue) })
    }
}
