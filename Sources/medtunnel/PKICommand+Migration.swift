import ArgumentParser
import Foundation
import MedTunnelPKI

extension PKICommand {
    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Move an old single-folder PKI (device keys beside the CA) into NEW/ca, NEW/gateway and NEW/devices.",
            discussion: """
                OLD is only read. NEW/ca gets the CA and the record of every device; NEW/gateway what the \
                gateway runs with (device certificates only); NEW/devices/pumps/SERIAL/ and \
                NEW/devices/phones/ID/ each device's existing key, certificate and trust anchors, to hand to \
                the device as its --state-dir. Those keys were born on the gateway host: re-enroll the \
                devices when possible, then delete OLD.
                """
        )
        @Option(help: "The old single-folder PKI (read only).") var from: String
        @OptionGroup var location: PKILocation
        @Option(name: .customLong("devices-dir"), help: "Where the device folders go (default DIR/devices).")
        var devicesDir: String?

        func run() throws {
            let layout = try self.location.layout()
            guard let devices = self.devicesDir ?? self.location.dir.map({ "\($0)/devices" }) else {
                throw ValidationError("give --devices-dir when the folders are given apart (--ca-dir, --gateway-dir)")
            }
            let report = try PKIMigration.migrate(
                from: self.from,
                to: layout,
                devices: URL(fileURLWithPath: devices, isDirectory: true)
            )
            print("migrated \(self.from):")
            print("  CA (keep offline):            \(layout.ca.root.path)")
            print("  gateway (run with --pki):     \(layout.gateway.root.path)")
            print(
                "  device folders:               \(devices) (\(report.pumps.count) pumps, \(report.phones.count) phones)"
            )
            for identity in report.withoutKey {
                print("  \(identity): certificate only (no key in \(self.from)); it keeps its own key")
            }
            print(
                """
                WARNING: the device keys in \(devices) were born on the gateway host, not on the devices: \
                whoever could read \(self.from) may hold them. Give each device its folder as its --state-dir \
                (pump-sim --state-dir \(devices)/pumps/SERIAL, relay --state-dir \(devices)/phones/ID), and \
                re-enroll the devices with keys born on them when possible (on the device: remove NAME.key and \
                NAME.pem from its folder, make a request with --csr; then pki sign-pump/sign-phone --replace; \
                then --install on the device).
                \(self.from) was not changed: once the devices have their folders, delete it (it holds the CA key \
                and every device key), e.g. `shred -u \(self.from)/*.key \(self.from)/pumps/*.key \
                \(self.from)/phones/*.key && rm -r \(self.from)`.
                """
            )
        }
    }
}
