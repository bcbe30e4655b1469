public import TherapyModel

/// A pump bound to its patient by pairing: who may set its therapy (the patient's clinicians)
/// and ask for changes on it (the patient, caregivers, clinicians) follows from `patientID`.
public struct PumpBinding: Sendable, Hashable {
    public let pumpSerial: String
    public let patientID: String
    /// The phone of the patient's account, when it names exactly one.
    public let phoneID: String?
    /// The account that paired it (or confirmed the transfer that bound it).
    public let boundBy: String
    public let boundAt: Timestamp
    /// The `pump.paired` or `pump.transferred` entry that made this binding.
    public let auditIndex: UInt64
}

/// An unpair or transfer that one party asked for and the other has not yet confirmed.
public struct PendingBindingChange: Sendable, Hashable {
    public enum Action: Sendable, Hashable {
        case unpair
        case transfer(toPatient: String)

        var name: String {
            switch self {
            case .unpair: "unpair"
            case .transfer: "transfer"
            }
        }

        var targetPatient: String? {
            switch self {
            case .unpair: nil
            case .transfer(let patient): patient
            }
        }
    }

    public let pumpSerial: String
    public let action: Action
    public let requestedBy: ChangeActor
    public let requestedAt: Timestamp
    /// The `pump.unpair_requested` or `pump.transfer_requested` entry.
    public let auditIndex: UInt64
}
