/// A clinician's limits for one patient. No accepted change may exceed them.
public struct Prescription: Sendable, Hashable {
    /// The patient this prescription belongs to; actors are linked to patients by this id.
    public let patientID: String
    public let maxBolus: Milliunits
    public let maxBasalRate: MilliunitsPerHour
    /// Most insulin (basal and bolus) in any 24 hours.
    public let maxDailyTotal: Milliunits
    public let carbRatioRange: ClosedRange<CarbRatio>
    public let sensitivityRange: ClosedRange<InsulinSensitivity>
    /// Both bounds of every correction-range entry must lie inside.
    public let correctionRange: ClosedRange<GlucoseMgdL>
    public let suspendThresholdRange: ClosedRange<GlucoseMgdL>
    /// Remote controls the clinician enables for this patient's pump.
    public let enabledControls: ControlSet
    /// The insulin in the pump, for insulin on board (rapid-acting unless the clinician says).
    public let insulinModel: InsulinModel
    /// The most insulin on board a bolus may leave (AndroidAPS' max IOB); nil: no such limit.
    public let maxInsulinOnBoard: Milliunits?

    public init(
        patientID: String,
        maxBolus: Milliunits,
        maxBasalRate: MilliunitsPerHour,
        maxDailyTotal: Milliunits,
        carbRatioRange: ClosedRange<CarbRatio>,
        sensitivityRange: ClosedRange<InsulinSensitivity>,
        correctionRange: ClosedRange<GlucoseMgdL>,
        suspendThresholdRange: ClosedRange<GlucoseMgdL>,
        enabledControls: ControlSet,
        insulinModel: InsulinModel = InsulinModel(kind: .rapidActing),
        maxInsulinOnBoard: Milliunits? = nil
    ) throws(TherapyValidationError) {
        guard !patientID.isEmpty else {
            throw TherapyValidationError(
                code: .valueOutOfRange,
                field: "patientId",
                reason: "the patient id is empty; give the id of the patient this prescription is for"
            )
        }
        try Check.positive(maxBolus.rawValue, field: "maxBolusMilliunits")
        try Check.nonNegative(maxBasalRate.rawValue, field: "maxBasalRateMilliunitsPerHour")
        try Check.positive(maxDailyTotal.rawValue, field: "maxDailyTotalMilliunits")
        try Check.positive(carbRatioRange.lowerBound.gramsPerUnit, field: "carbRatioGramsPerUnit.min")
        try Check.positive(sensitivityRange.lowerBound.mgdLPerUnit, field: "sensitivityMgdLPerUnit.min")
        try Check.positive(correctionRange.lowerBound.rawValue, field: "correctionRangeMgdL.min")
        try Check.positive(suspendThresholdRange.lowerBound.rawValue, field: "suspendThresholdMgdL.min")
        if let maxInsulinOnBoard {
            try Check.positive(maxInsulinOnBoard.rawValue, field: "maxInsulinOnBoardMilliunits")
        }
        self.insulinModel = insulinModel
        self.maxInsulinOnBoard = maxInsulinOnBoard
        self.patientID = patientID
        self.maxBolus = maxBolus
        self.maxBasalRate = maxBasalRate
        self.maxDailyTotal = maxDailyTotal
        self.carbRatioRange = carbRatioRange
        self.sensitivityRange = sensitivityRange
        self.correctionRange = correctionRange
        self.suspendThresholdRange = suspendThresholdRange
        self.enabledControls = enabledControls
    }
}
