import Foundation
import SafetyPolicy
import Testing
import TherapyJSON
import TherapyModel

/// Decoding yields only valid values, and every error names the field path and the problem.
@Suite("TherapyJSON decoding")
struct TherapyJSONTests {
    /// The error thrown when decoding `json` with `decode`, or `nil`.
    private func error<T>(_ json: String, _ decode: (Data) throws(TherapyJSONError) -> T) -> TherapyJSONError? {
        do {
            _ = try decode(Data(json.utf8))
            return nil
        } catch {
            return error
        }
    }

    @Test func shippedExamplesDecode() throws {
        let model = try TherapyJSON.pumpModel(from: ExampleFiles.data("pump-model.json"))
        #expect(model.bolusStep == Milliunits(50))
        #expect(model.supportedControls == .all)
        let settings = try TherapyJSON.settings(from: ExampleFiles.data("settings.json"))
        #expect(settings.basalSchedule.entries.count == 4)
        #expect(settings.maxBolus == Milliunits(10_000))
        let prescription = try TherapyJSON.prescription(from: ExampleFiles.data("prescription.json"))
        #expect(prescription.patientID == "patient-001")
        #expect(prescription.carbRatioRange == CarbRatio(gramsPerUnit: 5)...CarbRatio(gramsPerUnit: 25))
        let history = try TherapyJSON.history(from: ExampleFiles.data("history.json"))
        #expect(history.records.count == 7)
        #expect(history.records[0].time == Timestamp(millisecondsSinceEpoch: 1_795_177_800_000))
        let actor = try TherapyJSON.actor(from: ExampleFiles.data("actor-patient.json"))
        #expect(actor.role == .patient && actor.isAuthenticated && actor.controlRestriction == nil)
        #expect(try TherapyJSON.change(from: ExampleFiles.data("change-bolus.json")) == .bolus(Milliunits(2_000)))
    }

    @Test func everyChangeKindDecodes() throws {
        let cases: [(String, SettingChange)] = [
            (#"{"kind":"suspend"}"#, .suspend),
            (#"{"kind":"resume"}"#, .resume),
            (#"{"kind":"set_max_bolus","milliunits":5000}"#, .setMaxBolus(Milliunits(5_000))),
            (#"{"kind":"set_max_basal","milliunitsPerHour":2000}"#, .setMaxBasal(MilliunitsPerHour(2_000))),
            (
                #"{"kind":"temp_basal","milliunitsPerHour":500,"durationMinutes":90}"#,
                .tempBasal(rate: MilliunitsPerHour(500), durationMinutes: 90)
            ),
            (#"{"kind":"set_suspend_threshold","mgdL":75}"#, .setSuspendThreshold(GlucoseMgdL(75))),
            (
                #"{"kind":"set_sensitivities","schedule":[{"startMinute":0,"mgdLPerUnit":40}]}"#,
                .setSensitivities(DailySchedule(constant: InsulinSensitivity(mgdLPerUnit: 40)))
            ),
            (
                #"{"kind":"set_correction_range","schedule":[{"startMinute":0,"lowerMgdL":100,"upperMgdL":110}]}"#,
                .setCorrectionRange(PolicyFixtures.correctionSchedule(100, 110))
            ),
        ]
        for (json, expected) in cases {
            #expect(try TherapyJSON.change(from: Data(json.utf8)) == expected, "\(json)")
        }
    }

    @Test(
        "change errors name the field",
        arguments: [
            (#"{"kind":"bolus"}"#, "missing_field", "milliunits"),
            (#"{"kind":"bolus","milliunits":"2"}"#, "wrong_type", "milliunits"),
            (#"{"kind":"bolus","milliunits":1.5}"#, "wrong_type", "milliunits"),
            (#"{"kind":"bolus","milliunits":1e30}"#, "wrong_type", "milliunits"),
            (#"{"kind":"bolus","milliunits":99999999999999999999}"#, "wrong_type", "milliunits"),
            (#"{"kind":"bolus","milliunits":null}"#, "wrong_type", "milliunits"),
            (#"{"kind":"bolus","milliunits":-50}"#, "invalid_value", "milliunits"),
            (#"{"kind":"bolus","milliunit":50}"#, "unknown_field", "milliunit"),
            (#"{"kind":"bolus","milliunits":50,"durationMinutes":30}"#, "unknown_field", "durationMinutes"),
            (#"{"kind":"megabolus","milliunits":50}"#, "invalid_value", "kind"),
            (#"{"milliunits":50}"#, "missing_field", "kind"),
            (#"{"kind":"temp_basal","milliunitsPerHour":500,"durationMinutes":0}"#, "invalid_value", "durationMinutes"),
            (#"{"kind":"set_suspend_threshold","mgdL":0}"#, "invalid_value", "mgdL"),
            (#"{"kind":"set_basal_schedule","schedule":{}}"#, "wrong_type", "schedule"),
            (#"{"kind":"set_basal_schedule","schedule":[]}"#, "invalid_value", "schedule"),
            (
                #"{"kind":"set_basal_schedule","schedule":[{"startMinute":0,"milliunitsPerHour":800},{"startMinute":0,"milliunitsPerHour":900}]}"#,
                "invalid_value", "schedule[1].startMinute"
            ),
            (
                #"{"kind":"set_basal_schedule","schedule":[{"startMinute":30,"milliunitsPerHour":800}]}"#,
                "invalid_value", "schedule[0].startMinute"
            ),
            (
                #"{"kind":"set_basal_schedule","schedule":[{"startMinute":0,"milliunitsPerHour":-1}]}"#,
                "invalid_value", "schedule[0].milliunitsPerHour"
            ),
            (
                #"{"kind":"set_carb_ratios","schedule":[{"startMinute":0,"gramsPerUnit":10},{"startMinute":60,"gramsPerUnit":"x"}]}"#,
                "wrong_type", "schedule[1].gramsPerUnit"
            ),
            (
                #"{"kind":"set_correction_range","schedule":[{"startMinute":0,"lowerMgdL":130,"upperMgdL":110}]}"#,
                "invalid_value", "schedule[0].lowerMgdL"
            ),
            (#"{"kind":"bolus","milliunits":50"#, "malformed_json", ""),
            (#"[1, 2]"#, "wrong_type", ""),
        ] as [(String, String, String)]
    )
    func changeErrors(json: String, code: String, field: String) {
        let thrown = error(json, TherapyJSON.change(from:))
        #expect(thrown?.code.rawValue == code, "\(String(describing: thrown))")
        #expect(thrown?.field == field, "\(String(describing: thrown))")
    }

    @Test func scheduleErrorsExplainTheProblem() {
        let json =
            #"{"kind":"set_basal_schedule","schedule":[{"startMinute":0,"milliunitsPerHour":800},"#
            + #"{"startMinute":120,"milliunitsPerHour":800},{"startMinute":60,"milliunitsPerHour":800}]}"#
        let thrown = error(json, TherapyJSON.change(from:))
        #expect(thrown?.field == "schedule[2].startMinute")
        #expect(thrown?.reason.contains("schedule_unsorted") == true)
        #expect(thrown?.reason.contains("sort entries") == true)
    }

    @Test func tooManyScheduleEntriesAreRefused() {
        let entries = (0..<49).map { #"{"startMinute":\#($0 * 30),"milliunitsPerHour":800}"# }
        let json = #"{"kind":"set_basal_schedule","schedule":["# + entries.joined(separator: ",") + "]}"
        let thrown = error(json, TherapyJSON.change(from:))
        #expect(thrown?.field == "schedule")
        #expect(thrown?.reason.contains("schedule_too_many_entries") == true)
    }

    @Test func settingsErrorsNameTheNestedField() throws {
        var object = try #require(
            JSONSerialization.jsonObject(with: ExampleFiles.data("settings.json")) as? [String: Any]
        )
        object["basalSchedule"] = [
            ["startMinute": 0, "milliunitsPerHour": 800], ["startMinute": 45, "milliunitsPerHour": 900],
        ]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        let thrown = error(json, TherapyJSON.settings(from:))
        #expect(thrown?.code == .invalidValue)
        #expect(thrown?.field == "basalSchedule[1].startMinute")
        object["basalSchedule"] = nil
        let missing = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        #expect(error(missing, TherapyJSON.settings(from:))?.field == "basalSchedule")
    }

    @Test func pumpModelErrorsNameTheField() throws {
        let valid = try String(decoding: ExampleFiles.data("pump-model.json"), as: UTF8.self)
        let zeroStep = valid.replacingOccurrences(of: #""bolusStepMilliunits": 50"#, with: #""bolusStepMilliunits": 0"#)
        #expect(error(zeroStep, TherapyJSON.pumpModel(from:))?.field == "bolusStepMilliunits")
        let badControl = valid.replacingOccurrences(of: #""temp_basal""#, with: #""teleport""#)
        let thrown = error(badControl, TherapyJSON.pumpModel(from:))
        #expect(thrown?.field == "supportedControls[1]")
        #expect(thrown?.code == .invalidValue)
    }

    @Test func prescriptionRangesMustBeOrdered() throws {
        let valid = try String(decoding: ExampleFiles.data("prescription.json"), as: UTF8.self)
        let inverted = valid.replacingOccurrences(of: #"{ "min": 5, "max": 25 }"#, with: #"{ "min": 25, "max": 5 }"#)
        let thrown = error(inverted, TherapyJSON.prescription(from:))
        #expect(thrown?.field == "carbRatioGramsPerUnit.min")
        #expect(thrown?.code == .invalidValue)
    }

    @Test func historyAndActorErrorsNameTheField() {
        let badTime = #"{"deliveries":[{"time":"yesterday","kind":"bolus","milliunits":100}]}"#
        #expect(error(badTime, TherapyJSON.history(from:))?.field == "deliveries[0].time")
        let badKind = #"{"deliveries":[{"time":"2026-11-21T07:00:00Z","kind":"insulin","milliunits":100}]}"#
        #expect(error(badKind, TherapyJSON.history(from:))?.field == "deliveries[0].kind")
        let badRole = #"{"id":"x","role":"superuser","authenticated":true,"patientIds":[]}"#
        #expect(error(badRole, TherapyJSON.actor(from:))?.field == "role")
        let noAuth = #"{"id":"x","role":"patient","patientIds":[]}"#
        #expect(error(noAuth, TherapyJSON.actor(from:))?.code == .missingField)
        #expect(error(noAuth, TherapyJSON.actor(from:))?.field == "authenticated")
    }

    @Test func decisionsEncodeAsSpecified() throws {
        let decision = PolicyDecision.reject([PolicyReason(code: .pumpLockedOut, message: "locked")])
        let object = try #require(
            JSONSerialization.jsonObject(with: TherapyJSON.encode(decision)) as? [String: Any]
        )
        #expect(object["decision"] as? String == "reject")
        let reasons = try #require(object["reasons"] as? [[String: String]])
        #expect(reasons == [["code": "pump_locked_out", "message": "locked"]])
    }
}
