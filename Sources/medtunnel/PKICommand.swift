import ArgumentParser
import Foundation
import MedTunnelIdentity
import MedTunnelPKI

struct PKICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pki",
        abstract:
            "Create the MedTunnel CA, issue gateway, pump and phone certificates (ECDSA P-256), revoke and unrevoke them.",
        subcommands: [Init.self, IssuePump.self, IssuePhone.self, Revoke.self, Unrevoke.self]
    )

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Create DIR/ca.pem, ca.key, gateway.pem, gateway.key, command.key, command.pem. Keys are written with mode 0600; an existing PKI without a command key gets just that."
        )
        @Option(help: "The PKI directory.") var dir: String
        @Option(
            name: .customLong("gateway-name"),
            help: "A host name or IP address the gateway answers to (repeatable; default localhost and 127.0.0.1)."
        )
        var gatewayNames: [String] = []
        @Flag(help: "Replace an existing CA (every certificate it issued stops working).") var force = false

        func run() throws {
            let names = self.gatewayNames.isEmpty ? ["localhost", "127.0.0.1"] : self.gatewayNames
            if !self.force, try PKIOperations.addMissingCommandKey(PKIDirectory(self.dir)) {
                print("kept the existing CA in \(self.dir) and added the command key (command.key, command.pem)")
                return
            }
            try PKIOperations.initialize(PKIDirectory(self.dir), gatewayNames: names, force: self.force)
            print(
                "created the MedTunnel CA and a gateway certificate for \(names.joined(separator: ", ")) in \(self.dir)"
            )
        }
    }

    struct IssuePump: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "issue-pump",
            abstract: "Issue DIR/pumps/SERIAL.pem and .key (clientAuth; CN and SAN urn:medtunnel:pump:SERIAL)."
        )
        @Option(help: "The PKI directory.") var dir: String
        @Option(help: "The pump serial: letters, digits, '-', '_', '.'; at most 64.") var serial: String
        @Option(help: "Validity in days.") var days = CertificateAuthority.defaultLeafValidityDays
        @Flag(help: "Replace an existing certificate for this serial.") var force = false

        func run() throws {
            try issue(.pump(serial: self.serial), dir: self.dir, days: self.days, force: self.force)
        }
    }

    struct IssuePhone: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "issue-phone",
            abstract: "Issue DIR/phones/ID.pem and .key (clientAuth; SAN urn:medtunnel:phone:ID)."
        )
        @Option(help: "The PKI directory.") var dir: String
        @Option(help: "The phone id: letters, digits, '-', '_', '.'; at most 64.") var id: String
        @Option(help: "Validity in days.") var days = CertificateAuthority.defaultLeafValidityDays
        @Flag(help: "Replace an existing certificate for this id.") var force = false

        func run() throws {
            try issue(.phone(id: self.id), dir: self.dir, days: self.days, force: self.force)
        }
    }
}

private func issue(_ identity: DeviceIdentity, dir: String, days: Int, force: Bool) throws {
    let directory = PKIDirectory(dir)
    if try PKIOperations.issue(identity, in: directory, validityDays: days, force: force) {
        print("issued \(directory.certificate(for: identity).path)")
    } else {
        print("kept the existing \(directory.certificate(for: identity).path) (pass --force to replace it)")
    }
}
