import Gateway
import GatewayTLS
import MedTunnelIdentity
import MedTunnelPKI
import RelayCore
import Testing

@Suite("Relay: the gateway refuses phones it must not trust")
struct RelayRefusalTests {
    /// Connects `relay`'s uplink, which must fail. The relay only hears the gateway's fatal
    /// alert (`peerRefused`); the gateway records the precise reason, which must be `code`.
    /// Returns the relay's error.
    func expectRefused(
        _ relay: PhoneRelay,
        by bed: RelayTestBed,
        code: GatewayTLSError.Code
    ) async throws -> GatewayTLSError {
        var failure: (any Error)?
        do {
            let channel = try await relay.connectUplink()
            try? await channel.close()
        } catch {
            failure = error
        }
        let refusal = try #require(failure as? GatewayTLSError, "uplink not refused: \(String(describing: failure))")
        #expect(refusal.code == .peerRefused)
        let recorded = await bed.eventually {
            bed.gateway.registry.events.contains { $0.kind == "relay_handshake_failed" }
        }
        #expect(recorded)
        let event = bed.gateway.registry.events.first { $0.kind == "relay_handshake_failed" }
        #expect(event?.detail.contains("TLS \(code):") == true, "\(String(describing: event))")
        return refusal
    }

    @Test("a phone whose certificate is revoked cannot connect (certificateRevoked)")
    func revokedPhone() async throws {
        let bed = try await RelayTestBed(pumps: [])
        _ = try await RevocationList.revoke(.phone(id: "PHONE-1"), reason: "lost phone", in: bed.pki) { _ in }
        let refusal = try await self.expectRefused(try bed.relay(), by: bed, code: .certificateRevoked)
        #expect(refusal.reason.contains("certificate revoked"), "\(refusal)")
        await bed.shutdown()
    }

    @Test("a pump certificate used as the phone certificate is refused (identityRejected)")
    func pumpCertificateAsPhone() async throws {
        let bed = try await RelayTestBed(pumps: ["PUMP-0001"])
        _ = try await self.expectRefused(
            try bed.relay(as: .pump(serial: "PUMP-0001")),
            by: bed,
            code: .identityRejected
        )
        await bed.shutdown()
    }
}
