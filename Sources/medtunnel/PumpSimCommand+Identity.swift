import ArgumentParser
import Foundation
import MedTunnelIdentity
import MedTunnelPKI

/// `pump-sim` options for the pump's identity, which lives in its own storage (`--state-dir`):
/// the key is born there; provisioning only ever sees a request and returns a certificate.
struct PumpIdentityOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Write the pump's certificate signing request to FILE (the key is born in --state-dir if missing) and exit.",
            valueName: "file"
        )
    )
    var csr: String?
    @Option(
        help: ArgumentHelp(
            "Install the certificate CERT that `pki sign-pump` made for this pump, with the anchors of --trust, and exit.",
            valueName: "cert"
        )
    )
    var install: String?
    @Option(
        help: ArgumentHelp(
            "With --install: the gateway folder (PKI/gateway) whose ca.pem and command.pem the pump trusts.",
            valueName: "dir"
        )
    )
    var trust: String?
    @Option(
        name: .customLong("enroll-with"),
        help: ArgumentHelp(
            "Simulator convenience: enroll pumps not yet enrolled in --state-dir with the PKI root PKI (its ca/ and "
                + "gateway/), in this process; the keys stay in --state-dir.",
            valueName: "pki"
        )
    )
    var enrollWith: String?
    @Option(help: .hidden) var pki: String?
    @Flag(help: .hidden) var issue = false

    var isProvisioningStep: Bool { self.csr != nil || self.install != nil }

    /// `--pki` and `--issue` read and made pump keys in the gateway's folder: refused with the way now.
    func validateRemovedOptions() throws {
        if self.pki != nil || self.issue {
            throw ValidationError(
                "pump-sim no longer takes --pki or --issue: a pump keeps its key, certificate and anchors in its own "
                    + "--state-dir. Enroll it with `--enroll-with PKI` (the PKI root), or --csr FILE, "
                    + "`medtunnel pki sign-pump`, then --install CERT --trust PKI/gateway"
            )
        }
        if self.install != nil, self.trust == nil {
            throw ValidationError(
                "--install needs --trust PKI/gateway: the folder whose ca.pem and command.pem to trust"
            )
        }
        if self.csr != nil, self.install != nil {
            throw ValidationError("give --csr or --install, not both: the request is signed in between")
        }
    }

    /// Runs `--csr` or `--install` for `serial`; `true` when one ran (the process ends then).
    func runProvisioningStep(serial: String, stateDirectory: String) throws -> Bool {
        try provisioningStep(
            identity: .pump(serial: serial),
            stateDirectory: stateDirectory,
            csr: self.csr,
            install: self.install,
            trust: self.trust
        )
    }
}

/// `--csr FILE` or `--install CERT --trust DIR` for a pump or a phone; `true` when one ran.
func provisioningStep(
    identity: DeviceIdentity,
    stateDirectory: String,
    csr: String?,
    install: String?,
    trust: String?
) throws -> Bool {
    let store = DeviceStore(directory: stateDirectory, identity: identity)
    if let csr {
        let request = try store.certificateSigningRequest()
        try writeFileDurably(request, to: URL(fileURLWithPath: csr), mode: 0o644)
        print("\(identity): wrote the certificate request \(csr) (the key stays in \(store.key.path))")
        return true
    }
    if let install, let trust {
        let pem: String
        do {
            pem = try String(contentsOfFile: install, encoding: .utf8)
        } catch {
            throw ValidationError("cannot read the certificate \(install): \(FileText.problem(install))")
        }
        try store.install(certificatePEM: pem, trust: PKIDirectory(trust))
        print("\(identity): installed \(store.certificate.path) with the trust anchors of \(trust)")
        return true
    }
    return false
}
