public import TherapyModel

/// Why the policy did not simply accept a change. `code` is stable (logged, shown to
/// clinicians, asserted by tests); `message` names the value and the limit.
public struct PolicyReason: Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: Sendable, Hashable {
            case policy(PolicyCode)
            case pump(HardLimitViolation.Code)
        }

        private enum PolicyCode: String, Sendable {
            case notAuthenticated = "not_authenticated"
            case notAuthorized = "not_authorized"
            case controlNotPermitted = "control_not_permitted"
            case pumpLockedOut = "pump_locked_out"
            case bolusOutsideAbsolute = "bolus_outside_absolute"
            case basalRateOutsideAbsolute = "basal_rate_outside_absolute"
            case maxBolusOutsideAbsolute = "max_bolus_outside_absolute"
            case maxBolusOutsideRecommended = "max_bolus_outside_recommended"
            case maxBasalOutsideAbsolute = "max_basal_outside_absolute"
            case maxBasalOutsideRecommended = "max_basal_outside_recommended"
            case carbRatioOutsideAbsolute = "carb_ratio_outside_absolute"
            case carbRatioOutsideRecommended = "carb_ratio_outside_recommended"
            case sensitivityOutsideAbsolute = "sensitivity_outside_absolute"
            case sensitivityOutsideRecommended = "sensitivity_outside_recommended"
            case correctionRangeOutsideAbsolute = "correction_range_outside_absolute"
            case correctionRangeOutsideRecommended = "correction_range_outside_recommended"
            case correctionRangeBelowSuspendThreshold = "correction_range_below_suspend_threshold"
            case suspendThresholdOutsideAbsolute = "suspend_threshold_outside_absolute"
            case suspendThresholdOutsideRecommended = "suspend_threshold_outside_recommended"
            case prescriptionMaxBolusExceeded = "prescription_max_bolus_exceeded"
            case prescriptionMaxBasalExceeded = "prescription_max_basal_exceeded"
            case prescriptionDailyTotalExceeded = "prescription_daily_total_exceeded"
            case prescriptionCarbRatioRange = "prescription_carb_ratio_range"
            case prescriptionSensitivityRange = "prescription_sensitivity_range"
            case prescriptionCorrectionRange = "prescription_correction_range"
            case prescriptionSuspendThresholdRange = "prescription_suspend_threshold_range"
            case bolusHourlyTotalExceeded = "bolus_hourly_total_exceeded"
            case basalScheduleRaise = "basal_schedule_raise"
            case approverNotAuthenticated = "approver_not_authenticated"
            case approverNotClinician = "approver_not_clinician"
            case approverNotLinkedToPatient = "approver_not_linked_to_patient"
            case selfApproval = "self_approval"
            case pumpSuspended = "pump_suspended"
            case pumpStateUnknown = "pump_state_unknown"
            case reservoirInsufficient = "reservoir_insufficient"
            case glucoseBelowSuspendThreshold = "glucose_below_suspend_threshold"
            case glucoseUnknown = "glucose_unknown"
            case maxIOBExceeded = "max_iob_exceeded"
        }

        private let base: Base

        private init(_ code: PolicyCode) {
            self.base = .policy(code)
        }

        /// A pump hard-limit violation, with the pump's own code (e.g. `pump_increment_mismatch`).
        public init(_ hardLimit: HardLimitViolation.Code) {
            self.base = .pump(hardLimit)
        }

        // Identity and authorization.
        public static let notAuthenticated = Code(.notAuthenticated)
        /// Authenticated, but the actor may use no control at all on this pump.
        public static let notAuthorized = Code(.notAuthorized)
        /// Authorized for some controls on this pump, but not this one.
        public static let controlNotPermitted = Code(.controlNotPermitted)
        public static let pumpLockedOut = Code(.pumpLockedOut)
        // Guardrails (see `Guardrails`).
        public static let bolusOutsideAbsolute = Code(.bolusOutsideAbsolute)
        public static let basalRateOutsideAbsolute = Code(.basalRateOutsideAbsolute)
        public static let maxBolusOutsideAbsolute = Code(.maxBolusOutsideAbsolute)
        public static let maxBolusOutsideRecommended = Code(.maxBolusOutsideRecommended)
        public static let maxBasalOutsideAbsolute = Code(.maxBasalOutsideAbsolute)
        public static let maxBasalOutsideRecommended = Code(.maxBasalOutsideRecommended)
        public static let carbRatioOutsideAbsolute = Code(.carbRatioOutsideAbsolute)
        public static let carbRatioOutsideRecommended = Code(.carbRatioOutsideRecommended)
        public static let sensitivityOutsideAbsolute = Code(.sensitivityOutsideAbsolute)
        public static let sensitivityOutsideRecommended = Code(.sensitivityOutsideRecommended)
        public static let correctionRangeOutsideAbsolute = Code(.correctionRangeOutsideAbsolute)
        public static let correctionRangeOutsideRecommended = Code(.correctionRangeOutsideRecommended)
        public static let correctionRangeBelowSuspendThreshold = Code(.correctionRangeBelowSuspendThreshold)
        public static let suspendThresholdOutsideAbsolute = Code(.suspendThresholdOutsideAbsolute)
        public static let suspendThresholdOutsideRecommended = Code(.suspendThresholdOutsideRecommended)
        // Prescription.
        public static let prescriptionMaxBolusExceeded = Code(.prescriptionMaxBolusExceeded)
        public static let prescriptionMaxBasalExceeded = Code(.prescriptionMaxBasalExceeded)
        public static let prescriptionDailyTotalExceeded = Code(.prescriptionDailyTotalExceeded)
        public static let prescriptionCarbRatioRange = Code(.prescriptionCarbRatioRange)
        public static let prescriptionSensitivityRange = Code(.prescriptionSensitivityRange)
        public static let prescriptionCorrectionRange = Code(.prescriptionCorrectionRange)
        public static let prescriptionSuspendThresholdRange = Code(.prescriptionSuspendThresholdRange)
        // Rate of change.
        public static let bolusHourlyTotalExceeded = Code(.bolusHourlyTotalExceeded)
        public static let basalScheduleRaise = Code(.basalScheduleRaise)
        // Approval.
        public static let approverNotAuthenticated = Code(.approverNotAuthenticated)
        public static let approverNotClinician = Code(.approverNotClinician)
        public static let approverNotLinkedToPatient = Code(.approverNotLinkedToPatient)
        public static let selfApproval = Code(.selfApproval)
        // The pump's reported clinical state (`ReportedPumpState`).
        public static let pumpSuspended = Code(.pumpSuspended)
        public static let pumpStateUnknown = Code(.pumpStateUnknown)
        public static let reservoirInsufficient = Code(.reservoirInsufficient)
        public static let glucoseBelowSuspendThreshold = Code(.glucoseBelowSuspendThreshold)
        public static let glucoseUnknown = Code(.glucoseUnknown)
        public static let maxIOBExceeded = Code(.maxIOBExceeded)

        /// The stable string form, e.g. `prescription_max_bolus_exceeded`.
        public var rawValue: String {
            switch base {
            case .policy(let code): code.rawValue
            case .pump(let code): code.rawValue
            }
        }

        public var description: String { rawValue }
    }

    public let code: Code
    public let message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public init(_ violation: HardLimitViolation) {
        self.init(code: Code(violation.code), message: violation.message)
    }

    public var description: String { "\(code): \(message)" }
}
