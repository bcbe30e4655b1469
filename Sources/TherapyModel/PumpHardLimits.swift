/// The checks a pump makes on every command it receives, whatever the gateway said:
/// the model's controls, hardware maxima and increments, the configured maximum basal
/// rate and maximum bolus, and the model's schedule capacity.
///
/// Pure and Foundation-free so the pump firmware runs exactly this code; the gateway's
/// safety policy runs it too, so both ends agree. Doses are never rounded: a bolus of
/// 0.025 U on a 0.05 U pump is refused.
public enum PumpHardLimits {
    /// Whether a pump whose insulin delivery is suspended refuses `change`: a bolus or a
    /// temporary basal (insulin to deliver) until delivery is resumed. Settings, suspend and
    /// resume pass. The gateway's policy asks the same question of the pump's reported state.
    public static func refusedWhileSuspended(_ change: SettingChange) -> Bool {
        switch change {
        case .bolus, .tempBasal: true
        default: false
        }
    }

    /// Checks `change` against `model` and the pump's current `settings`.
    public static func check(
        _ change: SettingChange,
        settings: TherapySettings,
        model: PumpModel
    ) -> HardLimitVerdict {
        guard model.supportedControls.contains(change.kind) else {
            return .exceeds([
                HardLimitViolation(
                    code: .controlNotSupported,
                    message: "pump model \(model.name) does not accept \(change.kind) commands; "
                        + "use a control the pump supports"
                )
            ])
        }
        var found = Violations()
        switch change {
        case .bolus(let amount):
            found.checkBolus(amount, settings: settings, model: model)
        case .tempBasal(let rate, let durationMinutes):
            found.checkRate(rate, label: "temporary basal rate", model: model)
            found.checkAtMostMaxBasal(rate, label: "temporary basal rate", maxBasal: settings.maxBasalRate)
            found.checkTempBasalDuration(durationMinutes, model: model)
        case .setBasalSchedule(let schedule):
            found.checkCapacity(of: schedule, label: "basal schedule", model: model)
            for (index, rate) in schedule.values.enumerated() {
                let label = "basal schedule entry \(index) rate"
                found.checkRate(rate, label: label, model: model)
                found.checkAtMostMaxBasal(rate, label: label, maxBasal: settings.maxBasalRate)
            }
        case .setMaxBasal(let rate):
            found.checkRate(rate, label: "maximum basal rate", model: model)
            let highest = settings.highestScheduledBasalRate
            if rate < highest {
                found.add(
                    .maxBasalBelowScheduledBasal,
                    "maximum basal rate \(rate) is below the highest scheduled basal rate \(highest); "
                        + "lower the basal schedule first or choose at least \(highest)"
                )
            }
        case .setMaxBolus(let amount):
            found.checkBolusAmount(amount, label: "maximum bolus", model: model)
        case .setCarbRatios(let schedule):
            found.checkCapacity(of: schedule, label: "carb ratio schedule", model: model)
            found.checkPositive(schedule.values.map { $0.gramsPerUnit }, label: "carb ratio", unit: "g/U")
        case .setSensitivities(let schedule):
            found.checkCapacity(of: schedule, label: "sensitivity schedule", model: model)
            found.checkPositive(schedule.values.map { $0.mgdLPerUnit }, label: "sensitivity", unit: "mg/dL/U")
        case .setCorrectionRange(let schedule):
            found.checkCapacity(of: schedule, label: "correction range schedule", model: model)
            found.checkPositive(
                schedule.values.map { $0.lower.rawValue },
                label: "correction range lower bound",
                unit: "mg/dL"
            )
        case .setSuspendThreshold(let threshold):
            found.checkPositive([threshold.rawValue], label: "suspend threshold", unit: "mg/dL")
        case .suspend, .resume:
            break
        }
        return found.list.isEmpty ? .withinLimits : .exceeds(found.list)
    }
}

/// Collects violations for one check.
private struct Violations {
    var list: [HardLimitViolation] = []

    mutating func add(_ code: HardLimitViolation.Code, _ message: String) {
        list.append(HardLimitViolation(code: code, message: message))
    }

    mutating func checkBolus(_ amount: Milliunits, settings: TherapySettings, model: PumpModel) {
        checkBolusAmount(amount, label: "bolus", model: model)
        if amount > settings.maxBolus {
            add(
                .bolusAboveMaxBolus,
                "bolus \(amount) is above the pump's maximum bolus setting \(settings.maxBolus); "
                    + "give at most \(settings.maxBolus)"
            )
        }
    }

    mutating func checkBolusAmount(_ amount: Milliunits, label: String, model: PumpModel) {
        guard amount > .zero else {
            add(.amountNotPositive, "\(label) \(amount) is not above 0 U; give a positive amount")
            return
        }
        if !amount.isMultiple(of: model.bolusStep) {
            add(
                .incrementMismatch,
                "\(label) \(amount) is not a multiple of the \(model.name) bolus step \(model.bolusStep); "
                    + "give a multiple of \(model.bolusStep)"
            )
        }
        if amount > model.maxBolus {
            add(
                .bolusAbovePumpMaximum,
                "\(label) \(amount) is above the \(model.name) hardware maximum \(model.maxBolus); "
                    + "give at most \(model.maxBolus)"
            )
        }
    }

    mutating func checkRate(_ rate: MilliunitsPerHour, label: String, model: PumpModel) {
        guard rate >= .zero else {
            add(.rateNegative, "\(label) \(rate) is below 0 U/h; give 0 or more")
            return
        }
        if !rate.isMultiple(of: model.basalRateStep) {
            add(
                .incrementMismatch,
                "\(label) \(rate) is not a multiple of the \(model.name) basal step \(model.basalRateStep); "
                    + "give a multiple of \(model.basalRateStep)"
            )
        }
        if rate > model.maxBasalRate {
            add(
                .basalAbovePumpMaximum,
                "\(label) \(rate) is above the \(model.name) hardware maximum \(model.maxBasalRate); "
                    + "give at most \(model.maxBasalRate)"
            )
        }
    }

    mutating func checkAtMostMaxBasal(_ rate: MilliunitsPerHour, label: String, maxBasal: MilliunitsPerHour) {
        if rate > maxBasal {
            add(
                .basalAboveMaxBasal,
                "\(label) \(rate) is above the maximum basal rate setting \(maxBasal); give at most \(maxBasal)"
            )
        }
    }

    mutating func checkTempBasalDuration(_ minutes: Int64, model: PumpModel) {
        let step = Int64(model.tempBasalDurationStepMinutes)
        let maximum = Int64(model.maxTempBasalDurationMinutes)
        if minutes <= 0 || minutes % step != 0 || minutes > maximum {
            add(
                .tempBasalDurationInvalid,
                "temporary basal duration \(minutes) min is not a multiple of \(step) min between \(step) and "
                    + "\(maximum) min; choose a duration the \(model.name) supports"
            )
        }
    }

    mutating func checkCapacity<Value>(of schedule: DailySchedule<Value>, label: String, model: PumpModel) {
        if schedule.entries.count > model.maxScheduleEntries {
            add(
                .scheduleTooManyEntries,
                "\(label) has \(schedule.entries.count) entries, more than the \(model.maxScheduleEntries) the "
                    + "\(model.name) stores; merge entries"
            )
        }
        for segment in schedule.segments where segment.durationMinutes < model.minimumSegmentMinutes {
            add(
                .scheduleSegmentTooShort,
                "\(label) segment at minute \(segment.startMinute) lasts \(segment.durationMinutes) min, shorter "
                    + "than the \(model.name) minimum of \(model.minimumSegmentMinutes) min; lengthen or merge it"
            )
        }
    }

    mutating func checkPositive(_ values: [Int64], label: String, unit: String) {
        for (index, value) in values.enumerated() where value <= 0 {
            add(.valueNotPositive, "\(label) entry \(index) is \(value) \(unit); give a value above 0")
        }
    }
}
