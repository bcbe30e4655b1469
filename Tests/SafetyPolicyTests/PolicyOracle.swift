import SafetyPolicy
import TherapyModel

/// An independent statement of the limits, written from the issue and LoopKit's numbers
/// rather than from the policy code: what any accepted change must satisfy.
enum PolicyOracle {
    static func violations(of change: SettingChange, by actor: PolicyActor, context: PolicyContext) -> [String] {
        var found: [String] = []
        let model = context.model
        let settings = context.settings
        let prescription = context.prescription
        func require(_ condition: Bool, _ what: String) {
            if !condition { found.append(what) }
        }
        require(actor.isAuthenticated && !actor.id.isEmpty, "unauthenticated")
        require(actor.patientIDs.contains(prescription.patientID), "not linked")
        require(![ActorRole.operator, .incident, .admin].contains(actor.role), "role without therapy controls")
        require(actor.role.therapyControls.contains(change.kind), "role lacks control")
        require(model.supportedControls.contains(change.kind), "pump lacks control")
        require(prescription.enabledControls.contains(change.kind), "prescription disables control")
        require(actor.controlRestriction?.contains(change.kind) ?? true, "actor restricted")
        require(context.lockout == .unlocked, "locked out")
        require(PumpHardLimits.check(change, settings: settings, model: model) == .withinLimits, "pump hard limits")
        func deliverable(_ amount: Milliunits) -> Bool {
            amount.rawValue > 0 && amount <= model.maxBolus && amount.rawValue % model.bolusStep.rawValue == 0
        }
        func deliverable(_ rate: MilliunitsPerHour) -> Bool {
            rate.rawValue >= 0 && rate <= model.maxBasalRate && rate.rawValue % model.basalRateStep.rawValue == 0
        }
        func storable<Value>(_ schedule: DailySchedule<Value>) -> Bool {
            schedule.entries.count <= model.maxScheduleEntries
                && schedule.segments.allSatisfy { $0.durationMinutes >= model.minimumSegmentMinutes }
        }

        let dailySoFar = context.history.records
            .filter { $0.time >= context.now.advanced(byMinutes: -1440) }
            .reduce(Milliunits.zero) { $0.addingSaturating(max($1.amount, .zero)) }
        switch change {
        case .bolus(let amount):
            require(amount > .zero && amount.rawValue <= 30_000, "bolus absolute")
            require(deliverable(amount) && amount <= settings.maxBolus, "bolus hardware / max bolus")
            require(amount <= prescription.maxBolus && amount <= model.maxBolus, "bolus prescription/hardware")
            require(dailySoFar.addingSaturating(amount) <= prescription.maxDailyTotal, "daily total")
            let hour = context.history.records
                .filter { $0.kind == .bolus && $0.time >= context.now.advanced(byMinutes: -60) }
                .reduce(Milliunits.zero) { $0.addingSaturating(max($1.amount, .zero)) }
            let maxBolus = min(settings.maxBolus, prescription.maxBolus).rawValue
            require(hour.addingSaturating(amount).rawValue * 2 <= maxBolus * 3, "1.5 × max bolus per hour")
        case .tempBasal(let rate, let minutes):
            require(rate <= settings.maxBasalRate && rate <= prescription.maxBasalRate, "temp basal above max basal")
            require(deliverable(rate), "temp basal hardware")
            require(minutes > 0 && minutes <= Int64(model.maxTempBasalDurationMinutes), "temp basal duration")
            let dose = rate.insulin(overMinutes: minutes) ?? Milliunits(Int64.max)
            require(dailySoFar.addingSaturating(dose) <= prescription.maxDailyTotal, "daily total")
        case .setBasalSchedule(let schedule):
            require(storable(schedule), "basal schedule capacity")
            for rate in schedule.values {
                require(rate.rawValue >= 0 && rate.rawValue <= 30_000, "basal absolute")
                require(deliverable(rate) && rate <= settings.maxBasalRate, "basal hardware / max basal")
                require(rate <= prescription.maxBasalRate, "basal prescription")
            }
        case .setMaxBasal(let rate):
            let lowestCarbRatio = max(settings.carbRatioSchedule.values.min()?.gramsPerUnit ?? 2, 2)
            require(rate.rawValue <= 70_000 / lowestCarbRatio, "max basal absolute")
            require(rate <= prescription.maxBasalRate, "max basal prescription")
            require(deliverable(rate), "max basal hardware")
        case .setMaxBolus(let amount):
            require(amount.rawValue > 0 && amount.rawValue <= 30_000, "max bolus absolute")
            require(amount <= prescription.maxBolus, "max bolus prescription")
            require(deliverable(amount), "max bolus hardware")
        case .setCarbRatios(let schedule):
            require(storable(schedule), "carb ratio schedule capacity")
            for ratio in schedule.values {
                require((2...150).contains(ratio.gramsPerUnit), "carb ratio absolute")
                require(prescription.carbRatioRange.contains(ratio), "carb ratio prescription")
            }
        case .setSensitivities(let schedule):
            require(storable(schedule), "sensitivity schedule capacity")
            for sensitivity in schedule.values {
                require((10...500).contains(sensitivity.mgdLPerUnit), "sensitivity absolute")
                require(prescription.sensitivityRange.contains(sensitivity), "sensitivity prescription")
            }
        case .setCorrectionRange(let schedule):
            require(storable(schedule), "correction schedule capacity")
            for range in schedule.values {
                require(
                    (87...180).contains(range.lower.rawValue) && (87...180).contains(range.upper.rawValue),
                    "correction absolute"
                )
                require(
                    prescription.correctionRange.contains(range.lower)
                        && prescription.correctionRange.contains(range.upper),
                    "correction prescription"
                )
                require(range.lower >= settings.suspendThreshold, "correction below suspend threshold")
            }
        case .setSuspendThreshold(let threshold):
            require((67...110).contains(threshold.rawValue), "suspend threshold absolute")
            require(prescription.suspendThresholdRange.contains(threshold), "suspend threshold prescription")
        case .suspend, .resume:
            break
        }
        return found
    }
}
