public import TherapyModel

/// The two-tier guardrails, taken from LoopKit's published bounds:
/// LoopKit/LoopKit, `LoopKit/Extensions/Guardrail+Settings.swift`
/// (commit 117ca5da3f50a7dc1e1ed852d6eb3b6e8e1b2aba) and `LoopKit/Guardrail.swift`.
///
/// | setting            | absolute             | recommended            | LoopKit name                  |
/// |--------------------|----------------------|------------------------|-------------------------------|
/// | correction range   | 87–180 mg/dL         | 100–125 mg/dL          | `correctionRange`             |
/// | suspend threshold  | 67–110 mg/dL         | 74–80 mg/dL            | `suspendThreshold`            |
/// | sensitivity        | 10–500 mg/dL/U       | 16–399 mg/dL/U         | `insulinSensitivity`          |
/// | carb ratio         | 2–150 g/U            | 4–28 g/U               | `carbRatio`                   |
/// | scheduled basal    | 0–30 U/h             | same                   | `basalRate(supportedBasalRates:)` |
/// | max bolus          | one step – 30 U      | two steps – below 20 U | `maximumBolus(supportedBolusVolumes:)` |
/// | max basal          | 0 – 70 / lowest carb | 2.1× – 6.4× highest    | `maximumBasalRate(…)`         |
/// |                    | ratio, in U/h        | scheduled basal        |                               |
///
/// Differences from LoopKit, all on the conservative side: values are integers on the
/// pump's step grid instead of `Double`s; LoopKit lets the absolute max-basal bound
/// grow to 6.4× the highest scheduled basal when that exceeds 70 / lowest carb ratio,
/// here 70 / lowest carb ratio is always the absolute bound (as the issue specifies).
/// The max-basal lower bound (the highest scheduled basal) is a pump hard limit
/// (`max_basal_below_scheduled_basal`), so it is not repeated here.
public enum Guardrails {
    public static let correctionRange = Guardrail(
        absolute: GlucoseMgdL(87)...GlucoseMgdL(180),
        recommended: GlucoseMgdL(100)...GlucoseMgdL(125)
    )

    public static let suspendThreshold = Guardrail(
        absolute: GlucoseMgdL(67)...GlucoseMgdL(110),
        recommended: GlucoseMgdL(74)...GlucoseMgdL(80)
    )

    public static let insulinSensitivity = Guardrail(
        absolute: InsulinSensitivity(mgdLPerUnit: 10)...InsulinSensitivity(mgdLPerUnit: 500),
        recommended: InsulinSensitivity(mgdLPerUnit: 16)...InsulinSensitivity(mgdLPerUnit: 399)
    )

    public static let carbRatio = Guardrail(
        absolute: CarbRatio(gramsPerUnit: 2)...CarbRatio(gramsPerUnit: 150),
        recommended: CarbRatio(gramsPerUnit: 4)...CarbRatio(gramsPerUnit: 28)
    )

    /// LoopKit `scheduledBasalRateAbsoluteRange = 0.0...30.0` (U/h), both tiers.
    public static let scheduledBasalRate = Guardrail(
        absolute: MilliunitsPerHour(0)...MilliunitsPerHour(30_000),
        recommended: MilliunitsPerHour(0)...MilliunitsPerHour(30_000)
    )

    /// LoopKit `maxBolusThresholdUnits = 30`, `maxBolusWarningThresholdUnits = 20`:
    /// absolute from one step to 30 U; recommended from the second step to the last
    /// step strictly below 20 U. `bolusStep` must be positive (a valid `PumpModel`).
    public static func maximumBolus(bolusStep: Milliunits) -> Guardrail<Milliunits> {
        let step = max(bolusStep.rawValue, 1)
        let absoluteUpper = 30_000 / step * step
        let recommendedUpper = (20_000 - 1) / step * step
        let (twoSteps, overflow) = step.multipliedReportingOverflow(by: 2)
        let recommendedLower = overflow ? Int64.max : twoSteps
        return Guardrail(
            absolute: Milliunits(step)...Milliunits(max(absoluteUpper, step)),
            recommended: Milliunits(recommendedLower)...Milliunits(max(recommendedUpper, recommendedLower))
        )
    }

    /// Absolute: up to 70 / lowest carb ratio U/h (LoopKit `maximumUpperBound`), truncated
    /// to the basal step. Recommended: 2.1× to 6.4× the highest scheduled basal rate
    /// (LoopKit `recommendedLow/HighScheduledBasalScaleFactor`), or of one basal step when
    /// no basal is scheduled. A lowest carb ratio below 2 g/U (the carb-ratio absolute
    /// minimum) is treated as 2 g/U, so the bound never divides by zero.
    public static func maximumBasalRate(
        lowestCarbRatio: CarbRatio,
        highestScheduledBasal: MilliunitsPerHour,
        basalRateStep: MilliunitsPerHour
    ) -> Guardrail<MilliunitsPerHour> {
        let carbRatio = max(lowestCarbRatio.gramsPerUnit, carbRatio.absolute.lowerBound.gramsPerUnit)
        let absoluteUpper = MilliunitsPerHour(70_000 / carbRatio).truncated(toMultipleOf: basalRateStep)
        let reference = highestScheduledBasal > .zero ? highestScheduledBasal : basalRateStep
        let absolute = MilliunitsPerHour.zero...max(absoluteUpper, .zero)
        guard
            let low = reference.scaled(by: 21, dividedBy: 10)?.truncated(toMultipleOf: basalRateStep),
            let high = reference.scaled(by: 64, dividedBy: 10)?.truncated(toMultipleOf: basalRateStep),
            low <= high
        else {
            return Guardrail(absolute: absolute, recommended: absolute)
        }
        return Guardrail(absolute: absolute, recommended: low...high)
    }
}
