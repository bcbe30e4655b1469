public import Foundation
public import TherapyModel

/// What a clinician sets for one pump (`PUT /v1/pumps/{serial}/prescription`): the
/// prescription, the pump model, and the settings the pump holds now (the gateway's baseline).
///
/// ```
/// {"prescription": {…prescription.json…}, "model": {…pump-model.json…}, "settings": {…settings.json…}}
/// ```
public struct TherapyDocument: Sendable, Hashable {
    public let prescription: Prescription
    public let model: PumpModel
    public let settings: TherapySettings

    public init(prescription: Prescription, model: PumpModel, settings: TherapySettings) {
        self.prescription = prescription
        self.model = model
        self.settings = settings
    }
}

struct TherapyDocumentJSON: Decodable {
    static let fields = ["prescription", "model", "settings"]

    let value: TherapyDocument

    init(from decoder: any Decoder) throws {
        let reader = try FieldReader(decoder, fields: Self.fields)
        value = TherapyDocument(
            prescription: try reader.decode(PrescriptionJSON.self, "prescription").value,
            model: try reader.decode(PumpModelJSON.self, "model").value,
            settings: try reader.decode(SettingsJSON.self, "settings").value
        )
    }
}

extension TherapyJSON {
    /// A therapy document; errors name the field path (`settings.basalSchedule[1].startMinute`).
    public static func therapyDocument(from data: Data) throws(TherapyJSONError) -> TherapyDocument {
        try decode(TherapyDocumentJSON.self, from: data).value
    }
}
