import Foundation
import MedTunnelTestSupport
import QRCode
import Testing

@Suite("QR code", .offThePool)
struct QRCodeTests {
    /// A pairing payload's shape and length (the real one is made by the pump).
    static let payload =
        "MTPAIR1.AQlQVU1QLTAwMDEAAQIDBAUGBwgJCgsMDQ4PAAABmhrFKcA."
        + String(repeating: "Ab-_9z", count: 14) + "Ab"

    @Test("the PNG decodes with zbarimg to the exact payload")
    func pngDecodesToPayload() throws {
        let code = try QRCode(encoding: Self.payload)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qr-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("code.png").path
        try code.writePNG(to: path)
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))
        let output = try ChildProcess.run("/usr/bin/zbarimg", ["--raw", "-q", path], timeout: 30)
        #expect(output.status == 0, "zbarimg: \(output.stderr)")
        #expect(output.stdout.trimmingCharacters(in: .newlines) == Self.payload)
    }

    @Test("the PNG is 8-bit grey with a 4-module quiet zone")
    func pngShape() throws {
        let code = try QRCode(encoding: Self.payload)
        let png = try code.pngBytes(scale: 3)
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        // IHDR: width and height (big-endian) at 16 and 20, bit depth at 24, colour type at 25.
        let width = png[16..<20].reduce(0) { $0 << 8 | Int($1) }
        #expect(width == (code.size + 8) * 3)
        #expect(png[24] == 8)
        #expect(png[25] == 0)
    }

    @Test("the terminal rendering has the quiet zone and two rows per line")
    func terminal() throws {
        let code = try QRCode(encoding: "MTPAIR1.x")
        let lines = code.terminalText(quietZone: 2).split(separator: "\n")
        #expect(lines.count == (code.size + 4 + 1) / 2)
        #expect(lines.allSatisfy { $0.count == code.size + 4 })
        // Dark terminal: the quiet zone is light, so drawn as full blocks.
        #expect(lines[0].allSatisfy { $0 == "\u{2588}" })
        #expect(code.size >= 21 && code.modules.count == code.size * code.size)
    }

    @Test("text too long for any symbol is refused as too_long")
    func tooLong() throws {
        let error = #expect(throws: QRCodeError.self) { try QRCode(encoding: String(repeating: "x", count: 3000)) }
        #expect(error?.code == .tooLong)
    }
}
