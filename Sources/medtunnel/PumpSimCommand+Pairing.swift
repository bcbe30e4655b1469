import ArgumentParser
import Foundation
import PumpSimulator
import QRCode
import TunnelProtocol

/// `pump-sim --pairing`: the pump shows a pairing code (docs/pairing.md) as a QR symbol on the
/// terminal, optionally as a PNG and as its text (for scripts and the demo), and offers it to the
/// gateway on each session while it is unexpired. The code's text is never printed in a log line.
struct PumpPairingOptions: ParsableArguments {
    @Flag(help: "Show a pairing code (QR) when the pump starts and offer it to the gateway.")
    var pairing = false
    @Option(
        name: .customLong("pairing-png"),
        help: ArgumentHelp(
            "Also write the pairing QR code as a PNG to this file (implies --pairing).",
            valueName: "file"
        )
    )
    var png: String?
    @Option(
        name: .customLong("pairing-payload"),
        help: ArgumentHelp(
            "Also write the pairing code's text to this file, mode 0600 (implies --pairing); with --count, a "
                + "directory that gets SERIAL.txt per pump.",
            valueName: "path"
        )
    )
    var payload: String?

    var enabled: Bool { pairing || png != nil || payload != nil }

    /// (`--state-dir`, where the device key that signs the code lives, is checked by pump-sim
    /// itself: every pump needs it.)
    func validate(serial: String?) throws {
        guard enabled else { return }
        guard serial != nil || (png == nil && payload != nil) else {
            throw ValidationError(
                "with --count, pumps show their codes only as --pairing-payload DIR (DIR/SERIAL.txt), not on the "
                    + "terminal or as a PNG"
            )
        }
    }

    /// What the pump does with its code once made: draw it, write the files. In a fleet
    /// (`--count`), only the text, to `DIR/SERIAL.txt`.
    func pumpPairing(serial: String, fleet: Bool) throws -> PumpPairing? {
        guard enabled else { return nil }
        if fleet, let directory = self.payload {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let path = directory + "/" + serial + ".txt"
            return PumpPairing { code in
                do {
                    try Self.writePrivately(code.text + "\n", to: path)
                } catch {
                    print("pump \(serial): the pairing code could not be written: \(error)")
                }
            }
        }
        let png = self.png
        let payload = self.payload
        return PumpPairing { code in
            let text = code.text
            do {
                let symbol = try QRCode(encoding: text)
                print("pump \(serial) pairing code (valid 10 minutes; scan it with the patient's app):")
                print(symbol.terminalText(), terminator: "")
                if let png { try symbol.writePNG(to: png) }
                if let payload { try Self.writePrivately(text + "\n", to: payload) }
                print("pump \(serial) is offering its pairing code" + (png.map { " (PNG: \($0))" } ?? ""))
            } catch {
                print("pump \(serial): the pairing code could not be shown: \(error)")
            }
            fflush(nil)
        }
    }

    /// Writes `text` readable by the owner only, replacing the file whole (temporary, rename).
    private static func writePrivately(_ text: String, to path: String) throws {
        let temporary = path + ".tmp"
        guard
            FileManager.default.createFile(
                atPath: temporary,
                contents: Data(text.utf8),
                attributes: [.posixPermissions: 0o600]
            )
        else { throw ValidationError("cannot write the pairing code to \(temporary)") }
        guard rename(temporary, path) == 0 else {
            throw ValidationError("cannot rename \(temporary) to \(path): \(String(cString: strerror(errno)))")
        }
    }
}
