import Accounts
import AuditLog
import ChangeRequests
import CommandPipeline
import Foundation
import SafetyPolicy
import Testing
import TherapyModel

@Suite("Therapy and changes only for paired pumps, by the binding's patient")
struct PairedTherapyTests {
    func setTherapy(
        _ fixture: PipelineFixture,
        serial: String = PipelineFixture.serial,
        patient: String = "patient-001",
        as user: String
    ) async throws -> PumpTherapy {
        let prescription = PipelineFixture.prescriptionJSON.replacingOccurrences(
            of: "\"patientId\": \"patient-001\"",
            with: "\"patientId\": \"\(patient)\""
        )
        return try await fixture.pipeline.setTherapy(
            serial: serial,
            body: PipelineFixture.therapyBody(prescription: prescription),
            authorization: try await fixture.bearer(user)
        )
    }

    @Test("a serial the gateway never saw is 404 unknown_pump; a known pump not paired is 409 pump_not_paired")
    func unknownAndUnpaired() async throws {
        let fixture = try await PipelineFixture.make()
        try await fixture.running {
            let unknown = await apiError { try await setTherapy(fixture, serial: "PUMP-9999", as: "drsmith") }
            #expect(unknown?.status == 404 && unknown?.reason == "unknown_pump")
            let unpaired = await apiError { try await setTherapy(fixture, serial: "PUMP-0002", as: "drsmith") }
            #expect(unpaired?.status == 409 && unpaired?.reason == "pump_not_paired")
            let therapies = try await fixture.entries(of: .pumpTherapySet)
            #expect(therapies.isEmpty)
            let change = await apiError { try await fixture.submit(PipelineFixture.bolus(500), serial: "PUMP-0002") }
            #expect(change?.status == 404 && change?.reason == "unknown_pump")
        }
    }

    @Test(
        "first claimant: a clinician of another patient cannot set therapy for a paired or unpaired pump, and the error says nothing of its patient"
    )
    func firstClaimant() async throws {
        let fixture = try await PipelineFixture.make()
        try await fixture.running {
            try await fixture.pair()  // PUMP-0001 is alice's (patient-001)
            // drwho, a clinician of patient-999, claims PUMP-0001 for their own patient.
            let claim = try #require(
                await apiError { try await setTherapy(fixture, patient: "patient-999", as: "drwho") }
            )
            let body = String(decoding: claim.response.body, as: UTF8.self)
            #expect(claim.status == 403 && body.contains("\"forbidden\""))
            #expect(!body.contains("patient-001") && !body.contains("alice"), "\(body)")
            // Same with the prescription naming alice's patient.
            let named = try #require(await apiError { try await setTherapy(fixture, as: "drwho") })
            let namedBody = String(decoding: named.response.body, as: UTF8.self)
            #expect(named.status == 403 && !namedBody.contains("patient-001"))
            // An unpaired pump is claimed by no one: pump_not_paired, naming no patient.
            let unpaired = try #require(
                await apiError {
                    try await setTherapy(fixture, serial: "PUMP-0002", patient: "patient-999", as: "drwho")
                }
            )
            #expect(unpaired.reason == "pump_not_paired")
            let therapies = try await fixture.entries(of: .pumpTherapySet)
            #expect(therapies.isEmpty)
            #expect(try await fixture.entries(of: .accessDenied).count == 2)
            // Alice's clinician still can.
            _ = try await setTherapy(fixture, as: "drsmith")
        }
    }

    @Test("the prescription must name the pump's patient: 409 patient_mismatch")
    func patientMismatch() async throws {
        let fixture = try await PipelineFixture.make()
        _ = try await fixture.accounts.add(
            id: "drboth",
            role: .clinician,
            attributes: try AccountAttributes(
                [
                    try AccountAttribute(parsing: "patient=patient-001"),
                    try AccountAttribute(parsing: "patient=patient-999"),
                ],
                for: .clinician
            ),
            by: try AuditActor(id: "admin-1", role: "admin"),
            now: fixture.clock.now(),
            audit: fixture.audit
        )
        try await fixture.running {
            try await fixture.pair()
            let error = await apiError { try await setTherapy(fixture, patient: "patient-999", as: "drboth") }
            #expect(error?.status == 409 && error?.reason == "patient_mismatch")
            _ = try await setTherapy(fixture, as: "drboth")
        }
    }

    @Test("unpair needs the patient and a clinician, in either order; a caregiver or a second clinician is not enough")
    func unpairNeedsBothParties() async throws {
        let fixture = try await PipelineFixture.make()
        try await fixture.running {
            try await fixture.setTherapy()
            let serial = PipelineFixture.serial
            let first = try await fixture.pipeline.requestUnpair(
                serial: serial,
                authorization: try await fixture.bearer("drsmith")
            )
            #expect(first.status == 202 && first.state == "pending")
            let same = try await fixture.pipeline.requestUnpair(
                serial: serial,
                authorization: try await fixture.bearer("drsmith")
            )
            #expect(same.status == 202)
            let second = await apiError {
                try await fixture.pipeline.requestUnpair(
                    serial: serial,
                    authorization: try await fixture.bearer("drjones")
                )
            }
            #expect(second?.status == 409 && second?.reason == "second_party_required")
            let carol = await apiError {
                try await fixture.pipeline.requestUnpair(
                    serial: serial,
                    authorization: try await fixture.bearer("carol")
                )
            }
            #expect(carol?.status == 403 && carol?.reason == "not_authorized")
            let stranger = await apiError {
                try await fixture.pipeline.requestUnpair(
                    serial: serial,
                    authorization: try await fixture.bearer("drwho")
                )
            }
            #expect(stranger?.status == 403)
            #expect(try await fixture.pipeline.pumpPatient(serial) == "patient-001")
            let done = try await fixture.pipeline.requestUnpair(
                serial: serial,
                authorization: try await fixture.bearer("alice")
            )
            #expect(done.status == 200 && done.state == "unpaired")
            #expect(try await fixture.pipeline.pumpPatient(serial) == nil)
            #expect(try await fixture.entries(of: .pumpUnpairRequested).count == 1)
            #expect(try await fixture.entries(of: .pumpUnpaired).map(\.event.actor.id) == ["alice"])
            // Unpaired: no changes, no therapy.
            let change = await apiError { try await fixture.submit(PipelineFixture.bolus(500)) }
            #expect(change?.status == 409 && change?.reason == "pump_not_paired")
            let therapy = await apiError { try await setTherapy(fixture, as: "drsmith") }
            #expect(therapy?.reason == "pump_not_paired")
            let again = await apiError {
                try await fixture.pipeline.requestUnpair(
                    serial: serial,
                    authorization: try await fixture.bearer("alice")
                )
            }
            #expect(again?.reason == "pump_not_paired")
        }
    }

    @Test("transfer needs the patient and a clinician; then only the new patient's clinicians set its therapy")
    func transferNeedsBothParties() async throws {
        let fixture = try await PipelineFixture.make()
        try await fixture.running {
            try await fixture.setTherapy()
            let serial = PipelineFixture.serial
            let body = Data("{\"patientId\": \"patient-999\"}".utf8)
            let first = try await fixture.pipeline.requestTransfer(
                serial: serial,
                body: body,
                authorization: try await fixture.bearer("alice")
            )
            #expect(first.status == 202)
            #expect(try await fixture.pipeline.pumpPatient(serial) == "patient-001")
            let bad = await apiError {
                try await fixture.pipeline.requestTransfer(
                    serial: serial,
                    body: Data("{\"patientId\": \"no spaces\"}".utf8),
                    authorization: try await fixture.bearer("drsmith")
                )
            }
            #expect(bad?.status == 400 && bad?.reason == "invalid_input")
            let done = try await fixture.pipeline.requestTransfer(
                serial: serial,
                body: body,
                authorization: try await fixture.bearer("drsmith")
            )
            #expect(done.status == 200 && done.state == "transferred")
            #expect(try await fixture.pipeline.pumpPatient(serial) == "patient-999")
            #expect(try await fixture.entries(of: .pumpTransferred).count == 1)
            // The old prescription is for the old patient: changes wait for the new one.
            let change = await apiError { try await fixture.submit(PipelineFixture.bolus(500)) }
            #expect(change?.reason == "patient_mismatch")
            let old = await apiError { try await setTherapy(fixture, as: "drsmith") }
            #expect(old?.status == 403)
            _ = try await setTherapy(fixture, patient: "patient-999", as: "drwho")
        }
    }
}
