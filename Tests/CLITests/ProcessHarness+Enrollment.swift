import Foundation

/// Enrollment through the real binary, as an operator would: the device makes its key and a
/// request in its own folder, `pki sign-*` signs it, the device installs the certificate.
extension ProcessHarness {
    static let pumpModel = "MedTunnel simulated pump"

    /// `pump-sim --csr`, `pki sign-pump`, `pump-sim --install`: the key is born in `stateDir`.
    static func enrollPump(
        _ serial: String,
        pki: String,
        stateDir: String,
        model: String = ProcessHarness.pumpModel,
        firmware: String = "sim-1.0"
    ) throws {
        let csr = stateDir + "/\(serial).csr"
        let certificate = stateDir + "/\(serial).signed.pem"
        try self.succeed(["pump-sim", "--state-dir", stateDir, "--serial", serial, "--csr", csr])
        try self.succeed([
            "pki", "sign-pump", "--dir", pki, "--csr", csr, "--model", model, "--firmware", firmware, "--out",
            certificate,
        ])
        try self.succeed([
            "pump-sim", "--state-dir", stateDir, "--serial", serial, "--install", certificate, "--trust",
            pki + "/gateway",
        ])
    }

    /// `relay --csr`, `pki sign-phone`, `relay --install`: the key is born in `stateDir`.
    static func enrollPhone(_ id: String, pki: String, stateDir: String) throws {
        let csr = stateDir + "/\(id).csr"
        let certificate = stateDir + "/\(id).signed.pem"
        try self.succeed(["relay", "--state-dir", stateDir, "--phone-id", id, "--csr", csr])
        try self.succeed(["pki", "sign-phone", "--dir", pki, "--csr", csr, "--out", certificate])
        try self.succeed([
            "relay", "--state-dir", stateDir, "--phone-id", id, "--install", certificate, "--trust", pki + "/gateway",
        ])
    }

    private static func succeed(_ arguments: [String]) throws {
        let result = try self.medtunnel(arguments)
        guard result.status == 0 else {
            throw HarnessError("\(arguments.joined(separator: " ")) failed (\(result.status)): \(result.stderr)")
        }
    }
}
