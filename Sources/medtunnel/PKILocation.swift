import ArgumentParser
import Foundation
import MedTunnelPKI

/// Where a `pki` command finds the two folders of the PKI: `--dir PKI` (PKI/ca and PKI/gateway),
/// or each apart with `--ca-dir` and `--gateway-dir` (the CA kept on an offline station).
struct PKILocation: ParsableArguments {
    @Option(help: "The PKI root: its CA folder is DIR/ca, its gateway folder DIR/gateway.") var dir: String?
    @Option(name: .customLong("ca-dir"), help: "The CA folder (default DIR/ca).") var caDir: String?
    @Option(name: .customLong("gateway-dir"), help: "The gateway folder (default DIR/gateway).") var gatewayDir: String?

    /// Both folders: each given apart, or derived from `--dir`.
    func layout() throws -> PKILayout {
        let derived = self.dir.map { PKILayout(root: $0) }
        guard let ca = self.caDir.map(CADirectory.init) ?? derived?.ca else {
            throw ValidationError("give --dir PKI (the folders PKI/ca and PKI/gateway) or --ca-dir and --gateway-dir")
        }
        guard let gateway = self.gatewayDir.map(PKIDirectory.init) ?? derived?.gateway else {
            throw ValidationError("give --dir PKI (the folders PKI/ca and PKI/gateway) or --gateway-dir")
        }
        return PKILayout(ca: ca, gateway: gateway)
    }

    /// Only the gateway folder (revocation works there).
    func gateway() throws -> PKIDirectory {
        if let gatewayDir { return PKIDirectory(gatewayDir) }
        guard let dir else { throw ValidationError("give --dir PKI (its gateway folder PKI/gateway) or --gateway-dir") }
        return PKILayout(root: dir).gateway
    }
}
