import MedTunnelTestSupport
import Testing

@Suite("medtunnel demo", .offThePool)
struct DemoCommandTests {
    @Test("the demo tells its whole story and exits 0")
    func demoSucceeds() throws {
        let result = try ProcessHarness.medtunnel(["demo"], timeout: 120)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("The story succeeded."))
        #expect(result.stdout.contains("gateway confirms the session was reused"))
        #expect(result.stdout.contains("bound to its serial (from its certificate) and to phone PHONE-1"))
        #expect(result.stdout.contains("in every hello): not found"))
        #expect(result.stdout.contains("(recordRejected)"))
        #expect(result.stdout.contains("certificateRevoked"))
        #expect(result.stdout.contains("applied by the pump; its signed acknowledgement verified and recorded"))
        #expect(result.stdout.contains("PUMP-0001 paired to patient-001 (phone PHONE-1), audited (pump.paired)"))
        #expect(result.stdout.contains("refused (409 pairing_code_used)"))
        #expect(result.stdout.contains("refused: 409 pump_not_paired"))
        #expect(result.stdout.contains("\u{2588}"))  // the QR code, drawn in half blocks
        #expect(result.stdout.contains("the pump reports last applied sequence 1"))
        #expect(result.stdout.contains("prescription_max_bolus_exceeded"))
        #expect(result.stdout.contains("refused (403 self_approval)"))
        #expect(result.stdout.contains("security event recorded: handshake_failed"))
        #expect(result.stdout.contains("refused (replayed_sequence)"))
        #expect(result.stdout.contains("the pump's last applied sequence is still 2"))
        #expect(result.stdout.contains("signed checkpoint (ECDSA P-256) verified"))
        #expect(result.stdout.contains("/console/invite/"), "the demo prints the console and its invitations")
        #expect(result.stdout.contains("a page without a session goes to http://localhost:"))
    }
}
