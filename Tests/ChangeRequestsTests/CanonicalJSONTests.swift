import ChangeRequests
import Foundation
import Testing
import TherapyJSON
import TherapyModel

@Suite("canonical JSON of changes, prescriptions and models; the API's request JSON")
struct CanonicalJSONTests {
    static let changes: [String] = [
        #"{"kind":"bolus","milliunits":2000}"#,
        #"{"durationMinutes":30,"kind":"temp_basal","milliunitsPerHour":1500}"#,
        #"{"kind":"set_basal_schedule","schedule":[{"milliunitsPerHour":800,"startMinute":0},{"milliunitsPerHour":1000,"startMinute":360}]}"#,
        #"{"kind":"set_max_basal","milliunitsPerHour":3000}"#,
        #"{"kind":"set_max_bolus","milliunits":10000}"#,
        #"{"kind":"set_carb_ratios","schedule":[{"gramsPerUnit":10,"startMinute":0}]}"#,
        #"{"kind":"set_sensitivities","schedule":[{"mgdLPerUnit":45,"startMinute":0}]}"#,
        #"{"kind":"set_correction_range","schedule":[{"lowerMgdL":100,"startMinute":0,"upperMgdL":120}]}"#,
        #"{"kind":"set_suspend_threshold","mgdL":75}"#,
        #"{"kind":"suspend"}"#,
        #"{"kind":"resume"}"#,
    ]

    @Test("every kind of change encodes to the canonical text and decodes back to the same value")
    func changes() throws {
        for text in Self.changes {
            let change = try TherapyJSON.change(from: Data(text.utf8))
            let encoded = TherapyJSON.encode(change)
            #expect(String(decoding: encoded, as: UTF8.self) == text)
            #expect(try TherapyJSON.change(from: encoded) == change)
        }
        // Field order and spacing in the input do not matter: one value, one text.
        let loose = try TherapyJSON.change(from: Data(#"{ "milliunits": 2000, "kind": "bolus" }"#.utf8))
        #expect(String(decoding: TherapyJSON.encode(loose), as: UTF8.self) == Self.changes[0])
    }

    @Test("prescriptions and pump models round-trip")
    func prescriptionAndModel() throws {
        let prescription = StoreFixture.prescription
        #expect(try TherapyJSON.prescription(from: TherapyJSON.encode(prescription)) == prescription)
        let model = StoreFixture.model
        #expect(try TherapyJSON.pumpModel(from: TherapyJSON.encode(model)) == model)
    }

    @Test("a request's API JSON carries its id, state, change, decision and history with audit indexes")
    func requestJSON() async throws {
        let fixture = try await StoreFixture.make()
        let request = try await fixture.submit(StoreFixture.bolus(2000), decision: StoreFixture.needsApproval)
        let object = try #require(
            try JSONSerialization.jsonObject(with: ChangeRequestJSON.encode(request)) as? [String: Any]
        )
        #expect(object["id"] as? String == request.id.rawValue)
        #expect(object["state"] as? String == "pending_approval")
        #expect((object["change"] as? [String: Any])?["kind"] as? String == "bolus")
        let decision = try #require(object["decision"] as? [String: Any])
        #expect(decision["decision"] as? String == "needs_approval")
        let history = try #require(object["history"] as? [[String: Any]])
        #expect(history.count == 1 && history[0]["to"] as? String == "pending_approval")
        #expect((history[0]["auditIndex"] as? NSNumber)?.intValue == Int(request.requestAuditIndex))
        #expect(object["createdAt"] as? String == "2025-11-21T04:40:00.000Z")
        let list = try #require(
            try JSONSerialization.jsonObject(with: ChangeRequestJSON.encode([request])) as? [String: Any]
        )
        #expect((list["changes"] as? [Any])?.count == 1)
    }
}
