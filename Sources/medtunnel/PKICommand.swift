import ArgumentParser
import Foundation
import MedTunnelIdentity
import MedTunnelPKI

struct PKICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pki",
        abstract:
            "Create the MedTunnel CA and the gateway's folder, sign device requests (keys born on the devices), revoke.",
        discussion: """
            Two folders: PKI/ca (the offline CA: ca.pem, ca.key, enrolled/) and PKI/gateway (what the \
            gateway runs with: ca.pem, gateway.pem/.key, command.key/.pem, revoked.txt and the device \
            certificates pumps/SERIAL.pem, phones/ID.pem). Device keys are born on the devices \
            (`pump-sim --csr`, `relay --csr`) and never reach either folder.
            """,
        subcommands: [
            Init.self, SignPump.self, SignPhone.self, Migrate.self, Revoke.self, Unrevoke.self, IssuePump.self,
            IssuePhone.self,
        ]
    )

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Create PKI/ca (ca.pem, ca.key) and PKI/gateway (ca.pem, gateway.pem, gateway.key, command.key, command.pem).",
            discussion: """
                Keys are written with mode 0600. A gateway folder without a command key gets just that. \
                Keep PKI/ca offline (on the provisioning station): the gateway refuses to start with a CA key.
                """
        )
        @OptionGroup var location: PKILocation
        @Option(
            name: .customLong("gateway-name"),
            help: "A host name or IP address the gateway answers to (repeatable; default localhost and 127.0.0.1)."
        )
        var gatewayNames: [String] = []
        @Flag(help: "Replace an existing CA (every certificate it issued stops working).") var force = false

        func run() throws {
            let layout = try self.location.layout()
            let names = self.gatewayNames.isEmpty ? ["localhost", "127.0.0.1"] : self.gatewayNames
            if !self.force, try PKIOperations.addMissingCommandKey(layout.gateway) {
                print(
                    "kept the existing CA in \(layout.gateway.root.path) and added the command key "
                        + "(command.key, command.pem)"
                )
                return
            }
            try PKIOperations.initialize(layout, gatewayNames: names, force: self.force)
            print(
                "created the MedTunnel CA in \(layout.ca.root.path) (keep it offline) and the gateway folder "
                    + "\(layout.gateway.root.path) for \(names.joined(separator: ", ")); run the gateway with "
                    + "--pki \(layout.gateway.root.path)"
            )
        }
    }

    /// `pki issue-pump` issued a pump's key on the gateway host; the key is now born on the pump.
    struct IssuePump: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "issue-pump",
            abstract: "Removed: pump keys are born on the pump. Use `pump-sim --csr` and `pki sign-pump`.",
            shouldDisplay: false
        )
        @Argument(parsing: .allUnrecognized) var rest: [String] = []

        func run() throws {
            throw RemovedCommand(
                "pki issue-pump is gone: it made the pump's private key on the gateway host. A pump's key is now "
                    + "born on the pump: `medtunnel pump-sim --state-dir DIR --serial S --csr S.csr`, then "
                    + "`medtunnel pki sign-pump --dir PKI --csr S.csr --model NAME --firmware VERSION --out S.pem`, "
                    + "then `medtunnel pump-sim --state-dir DIR --serial S --install S.pem --trust PKI/gateway` "
                    + "(or, for the simulator, `pump-sim --state-dir DIR --serial S --enroll-with PKI`)"
            )
        }
    }

    struct IssuePhone: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "issue-phone",
            abstract: "Removed: phone keys are born on the phone. Use `relay --csr` and `pki sign-phone`.",
            shouldDisplay: false
        )
        @Argument(parsing: .allUnrecognized) var rest: [String] = []

        func run() throws {
            throw RemovedCommand(
                "pki issue-phone is gone: it made the phone's private key on the gateway host. A phone's key is now "
                    + "born on the phone: `medtunnel relay --state-dir DIR --phone-id ID --csr ID.csr`, then "
                    + "`medtunnel pki sign-phone --dir PKI --csr ID.csr --out ID.pem`, then "
                    + "`medtunnel relay --state-dir DIR --phone-id ID --install ID.pem --trust PKI/gateway` "
                    + "(or `relay --state-dir DIR --phone-id ID --enroll-with PKI ...`)"
            )
        }
    }
}

struct RemovedCommand: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
