import SafetyPolicy
import TherapyModel

/// Random models, settings, prescriptions, histories, actors and changes for the
/// property tests. Values cluster around the limits and include absurd ones.
extension SeededGenerator {
    mutating func model() -> PumpModel {
        let bolusStep = pick([10, 25, 50, 100] as [Int64])
        let basalStep = pick([10, 25, 50] as [Int64])
        let controls = chance(80) ? ControlSet.all : ControlSet(ControlKind.allCases.filter { _ in chance(70) })
        return try! PumpModel(
            name: "Random pump",
            bolusStep: Milliunits(bolusStep),
            basalRateStep: MilliunitsPerHour(basalStep),
            maxBolus: Milliunits(int(20...400) * bolusStep),
            maxBasalRate: MilliunitsPerHour(int(40...1200) * basalStep),
            maxScheduleEntries: Int(int(1...48)),
            minimumSegmentMinutes: pick([30, 60]),
            tempBasalDurationStepMinutes: pick([15, 30]),
            maxTempBasalDurationMinutes: pick([240, 720, 1440]),
            supportedControls: controls
        )
    }

    mutating func schedule<Value>(_ value: (inout SeededGenerator) -> Value) -> DailySchedule<Value> {
        var starts: [Int] = [0]
        for slot in 1..<48 where chance(8) {
            starts.append(slot * 30)
        }
        return try! DailySchedule(starts.map { .init(startMinute: $0, value: value(&self)) })
    }

    mutating func settings(model: PumpModel) -> TherapySettings {
        let basalStep = model.basalRateStep.rawValue
        let basal = schedule { MilliunitsPerHour($0.int(0...60) * basalStep) }
        let highest = basal.values.max()?.rawValue ?? 0
        let correctionLower = int(80...130)
        return TherapySettings(
            basalSchedule: basal,
            maxBasalRate: MilliunitsPerHour(highest + int(0...80) * basalStep),
            maxBolus: Milliunits(int(1...300) * model.bolusStep.rawValue),
            carbRatioSchedule: schedule { CarbRatio(gramsPerUnit: $0.int(2...40)) },
            sensitivitySchedule: schedule { InsulinSensitivity(mgdLPerUnit: $0.int(10...300)) },
            correctionRangeSchedule: schedule { generator in
                let lower = generator.int(correctionLower...correctionLower + 20)
                return try! CorrectionRange(
                    lower: GlucoseMgdL(lower),
                    upper: GlucoseMgdL(lower + generator.int(0...40))
                )
            },
            suspendThreshold: GlucoseMgdL(int(65...100))
        )
    }

    mutating func prescription() -> Prescription {
        let carbLow = int(2...10)
        let sensitivityLow = int(10...40)
        let correctionLow = int(80...105)
        let suspendLow = int(60...75)
        return try! Prescription(
            patientID: PolicyFixtures.patient,
            maxBolus: Milliunits(int(1_000...30_000)),
            maxBasalRate: MilliunitsPerHour(int(500...8_000)),
            maxDailyTotal: Milliunits(int(10_000...150_000)),
            carbRatioRange: CarbRatio(gramsPerUnit: carbLow)...CarbRatio(gramsPerUnit: carbLow + int(0...40)),
            sensitivityRange: InsulinSensitivity(
                mgdLPerUnit: sensitivityLow
            )...InsulinSensitivity(
                mgdLPerUnit: sensitivityLow + int(0...300)
            ),
            correctionRange: GlucoseMgdL(correctionLow)...GlucoseMgdL(correctionLow + int(20...100)),
            suspendThresholdRange: GlucoseMgdL(suspendLow)...GlucoseMgdL(suspendLow + int(5...40)),
            enabledControls: chance(85) ? .all : ControlSet(ControlKind.allCases.filter { _ in chance(70) })
        )
    }

    mutating func history(now: Timestamp) -> DeliveryHistory {
        let count = Int(int(0...8))
        return DeliveryHistory(
            records: (0..<count).map { _ in
                DeliveryHistory.Record(
                    time: now.advanced(byMinutes: -int(-10...(30 * 60))),
                    kind: pick(DeliveryHistory.Kind.allCases),
                    amount: Milliunits(chance(3) ? Int64.max / 2 : int(0...12_000))
                )
            }
        )
    }

    mutating func actor() -> PolicyActor {
        PolicyActor(
            id: pick(["user-a", "user-b", ""]),
            role: pick(ActorRole.allCases),
            isAuthenticated: chance(95),
            patientIDs: chance(90) ? [PolicyFixtures.patient] : ["patient-002"],
            controlRestriction: chance(85) ? nil : ControlSet(ControlKind.allCases.filter { _ in chance(50) })
        )
    }

    mutating func change(model: PumpModel, settings: TherapySettings) -> SettingChange {
        let bolusStep = model.bolusStep.rawValue
        let basalStep = model.basalRateStep.rawValue
        switch pick(ControlKind.allCases) {
        case .bolus:
            return .bolus(Milliunits(amount(step: bolusStep, in: 0...12_000)))
        case .tempBasal:
            return .tempBasal(
                rate: MilliunitsPerHour(amount(step: basalStep, in: 0...4_000)),
                durationMinutes: amount(step: 30, in: 30...720)
            )
        case .setMaxBolus:
            return .setMaxBolus(Milliunits(amount(step: bolusStep, in: 0...32_000)))
        case .setMaxBasal:
            return .setMaxBasal(MilliunitsPerHour(amount(step: basalStep, in: 0...9_000)))
        case .setBasalSchedule:
            return .setBasalSchedule(schedule { MilliunitsPerHour($0.amount(step: basalStep, in: 0...4_000)) })
        case .setCarbRatios:
            return .setCarbRatios(schedule { CarbRatio(gramsPerUnit: $0.amount(step: 1, in: 1...160)) })
        case .setSensitivities:
            return .setSensitivities(schedule { InsulinSensitivity(mgdLPerUnit: $0.amount(step: 1, in: 5...520)) })
        case .setCorrectionRange:
            return .setCorrectionRange(
                schedule { generator in
                    let lower = generator.int(80...190)
                    return try! CorrectionRange(
                        lower: GlucoseMgdL(lower),
                        upper: GlucoseMgdL(lower + generator.int(0...30))
                    )
                }
            )
        case .setSuspendThreshold:
            return .setSuspendThreshold(GlucoseMgdL(amount(step: 1, in: 60...120)))
        case .suspend:
            return .suspend
        case .resume:
            return .resume
        }
    }
}
