/// A kind of remote control over a pump: one per `SettingChange` case.
/// The raw values are the stable names used in JSON and in policy messages.
public enum ControlKind: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case setBasalSchedule = "set_basal_schedule"
    case tempBasal = "temp_basal"
    case bolus = "bolus"
    case setMaxBasal = "set_max_basal"
    case setMaxBolus = "set_max_bolus"
    case setCarbRatios = "set_carb_ratios"
    case setSensitivities = "set_sensitivities"
    case setCorrectionRange = "set_correction_range"
    case setSuspendThreshold = "set_suspend_threshold"
    case suspend = "suspend"
    case resume = "resume"

    /// Bit position in a `ControlSet`.
    var bit: UInt16 {
        switch self {
        case .setBasalSchedule: 1 << 0
        case .tempBasal: 1 << 1
        case .bolus: 1 << 2
        case .setMaxBasal: 1 << 3
        case .setMaxBolus: 1 << 4
        case .setCarbRatios: 1 << 5
        case .setSensitivities: 1 << 6
        case .setCorrectionRange: 1 << 7
        case .setSuspendThreshold: 1 << 8
        case .suspend: 1 << 9
        case .resume: 1 << 10
        }
    }

    public var description: String { rawValue }
}

/// A set of `ControlKind`s, stored as a bit mask (no heap, firmware-friendly).
public struct ControlSet: Sendable, Hashable, CustomStringConvertible {
    public private(set) var mask: UInt16

    public init(_ kinds: some Sequence<ControlKind>) {
        mask = 0
        for kind in kinds {
            mask |= kind.bit
        }
    }

    private init(mask: UInt16) {
        self.mask = mask
    }

    public static let empty = ControlSet(mask: 0)
    public static let all = ControlSet(ControlKind.allCases)

    public func contains(_ kind: ControlKind) -> Bool {
        mask & kind.bit != 0
    }

    public var isEmpty: Bool { mask == 0 }

    public func intersection(_ other: ControlSet) -> ControlSet {
        var result = self
        result.mask &= other.mask
        return result
    }

    /// Members in `ControlKind.allCases` order.
    public var kinds: [ControlKind] {
        ControlKind.allCases.filter { self.contains($0) }
    }

    public var description: String {
        "[" + kinds.map { $0.rawValue }.joined(separator: ", ") + "]"
    }
}
