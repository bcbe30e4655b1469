import ArgumentParser
import Foundation
import MedTunnelIdentity
import MedTunnelPKI

extension PKICommand {
    struct SignPump: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sign-pump",
            abstract: "Sign a pump's certificate request: the model and firmware go into the certificate.",
            discussion: """
                The request comes from the pump (`medtunnel pump-sim --state-dir DIR --serial S --csr FILE`); \
                its key stays on the pump. Checks: a PEM CSR whose signature verifies, a P-256 key, a valid \
                serial (the subject CN), not enrolled yet (unless --replace), model and firmware of printable \
                ASCII. Writes CA/enrolled/pumps/SERIAL.pem (the record) and GATEWAY/pumps/SERIAL.pem (what \
                the gateway verifies acknowledgements with, and lockouts by model use), and --out for the pump.
                """
        )
        @OptionGroup var location: PKILocation
        @OptionGroup var request: SignOptions
        @Option(help: "The pump model, as lockouts by model: name it (printable ASCII, at most 64).") var model: String
        @Option(help: "The firmware version provisioned (printable ASCII, at most 64).") var firmware: String

        func run() throws {
            try self.request.sign(.pump, model: self.model, firmware: self.firmware, layout: self.location.layout())
        }
    }

    struct SignPhone: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sign-phone",
            abstract:
                "Sign a phone relay's certificate request (`medtunnel relay --state-dir DIR --phone-id ID --csr FILE`).",
            discussion: """
                Same checks as sign-pump. Writes CA/enrolled/phones/ID.pem and GATEWAY/phones/ID.pem, and --out.
                """
        )
        @OptionGroup var location: PKILocation
        @OptionGroup var request: SignOptions

        func run() throws {
            try self.request.sign(.phone, model: nil, firmware: nil, layout: self.location.layout())
        }
    }
}

/// What sign-pump and sign-phone share: the request, where the certificate goes, its validity,
/// and whether an enrolled device may get a new key.
struct SignOptions: ParsableArguments {
    @Option(help: "The device's certificate signing request (PEM).") var csr: String
    @Option(help: "Also write the certificate here, to hand to the device (default: print where it is).")
    var out: String?
    @Option(help: "Validity in days.") var days = CertificateAuthority.defaultLeafValidityDays
    @Flag(
        help: "Sign even though the device is enrolled already (a new key for a repaired or reset device); reported."
    )
    var replace = false

    func sign(_ kind: DeviceKind, model: String?, firmware: String?, layout: PKILayout) throws {
        let pem: String
        do {
            pem = try String(contentsOfFile: self.csr, encoding: .utf8)
        } catch {
            throw PKIError(
                .invalidRequest,
                "cannot read the certificate request \(self.csr): \(FileText.problem(self.csr))"
            )
        }
        let request = try DeviceCertificateRequest(pem: pem, kind: kind, source: self.csr)
        let enrollment = try PKIOperations.enroll(
            request,
            model: model,
            firmware: firmware,
            in: layout,
            replace: self.replace,
            validityDays: self.days
        )
        if let out = self.out {
            try writeFileDurably(enrollment.certificatePEM, to: URL(fileURLWithPath: out), mode: 0o644)
        }
        let identity = enrollment.identity
        if enrollment.replaced {
            // Printed on stderr as well: replacing a device's key is a security decision to notice.
            let line =
                "pki: REPLACED the enrollment of \(identity): its earlier key no longer signs for it "
                + "(\(layout.ca.enrolledCertificate(for: identity).path) rewritten)"
            Console.err(line)
            print(line)
        }
        let attributes = model.map { " (model \($0), firmware \(firmware ?? "?"))" } ?? ""
        print(
            "signed \(identity)\(attributes): \(layout.gateway.certificate(for: identity).path)"
                + (self.out.map { ", and \($0) for the device" } ?? "")
        )
    }
}
