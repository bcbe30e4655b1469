import Foundation
import SafetyPolicy
import Testing
import TherapyModel

@testable import ChangeRequests

/// `JSONOutput` writes the API's JSON by hand; its bytes must be `JSONEncoder`'s (sorted keys,
/// `.withoutEscapingSlashes`), the encoder the answers were made with before.
@Suite("JSONOutput: the API's JSON, byte for byte what JSONEncoder writes")
struct JSONOutputTests {
    /// Every control character, quotes, backslash, slash, DEL, non-ASCII, U+2028, an emoji.
    static let awkward: String = {
        var text = ""
        for code in 0..<0x20 { text.unicodeScalars.append(Unicode.Scalar(UInt8(code))) }
        return text + "\"\\/\u{7F}é\u{2028}😀 end"
    }()

    func output(_ value: JSONValue) -> JSONOutput {
        switch value {
        case .null: .null
        case .bool: .null
        case .int(let number): .int(number)
        case .string(let text): .string(text)
        case .array(let values): .array(values.map(output))
        case .object(let members): .object(members.map { ($0.key, output($0.value)) })
        }
    }

    @Test("strings with every escape, integers at both ends, nested arrays and objects with keys to sort")
    func matchesJSONEncoder() throws {
        let value = JSONValue.object([
            "text": .string(Self.awkward),
            Self.awkward: .array([.int(Int64.min), .int(0), .int(Int64.max), .null, .string("")]),
            "B": .object(["z": .int(1), "a": .object([:]), "é": .array([]), "_": .string("/")]),
            "a": .int(-1), "aa": .int(2), "Z": .null,
        ])
        let expected = try value.data
        #expect(output(value).data == expected, "\(String(decoding: output(value).data, as: UTF8.self))")
    }

    @Test("a change request's answer, with every optional member, is canonical: re-encoding it changes no byte")
    func requestAnswerIsCanonical() async throws {
        let fixture = try await StoreFixture.make()
        let reasons = PolicyDecision.needsApproval([
            PolicyReason(code: .maxBolusOutsideRecommended, message: Self.awkward)
        ])
        let held = try await fixture.submit(StoreFixture.bolus(2000), key: "key/\"1\"", decision: reasons)
        let approved = try await fixture.store.approve(held.id, by: StoreFixture.secondClinician, now: StoreFixture.now)
        _ = try await fixture.store.markSent(approved.id, now: StoreFixture.now)
        let refused = try await fixture.store.markAcknowledged(
            serial: StoreFixture.serial,
            sequence: 1,
            outcome: .refused(code: "hard_limit"),
            now: StoreFixture.later(1)
        )
        #expect(refused.approverID != nil && refused.state.refusalCode != nil)
        for encoded in [ChangeRequestJSON.encode(refused), ChangeRequestJSON.encode([refused, held])] {
            #expect(try JSONValue(parsing: encoded).data == encoded, "\(String(decoding: encoded, as: UTF8.self))")
        }
        let therapy = try await fixture.store.setTherapy(
            serial: StoreFixture.serial,
            prescription: StoreFixture.prescription,
            model: StoreFixture.model,
            by: StoreFixture.secondClinician,
            now: StoreFixture.now
        )
        let encoded = ChangeRequestJSON.encode(therapy)
        #expect(try JSONValue(parsing: encoded).data == encoded, "\(String(decoding: encoded, as: UTF8.self))")
    }
}
