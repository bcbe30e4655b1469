internal import CQRCode

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A QR symbol made by libqrencode: byte mode, error correction M (15 % of the symbol may be
/// lost), the smallest version that fits. MedTunnel does not encode QR itself: the symbol is
/// what every scanner reads, so it comes from the library the scanners are tested against.
///
/// Rendering: `QRCode+Terminal.swift` (Unicode half blocks), `QRCode+PNG.swift` (8-bit grey).
public struct QRCode: Sendable, Hashable {
    /// Modules per side (21 for version 1, +4 per version).
    public let size: Int
    /// Row-major, `true` for a dark module.
    public let modules: [Bool]
    /// The QR version libqrencode chose (1…40).
    public let version: Int

    /// The quiet zone a scanner needs around the symbol (ISO/IEC 18004: 4 modules).
    public static let quietZone = 4

    /// Whether the module at column `x`, row `y` is dark; outside the symbol (the quiet zone),
    /// light.
    public func isDark(x: Int, y: Int) -> Bool {
        guard (0..<self.size).contains(x), (0..<self.size).contains(y) else { return false }
        return self.modules[y * self.size + x]
    }

    /// Encodes `text`'s UTF-8 bytes.
    public init(encoding text: String) throws(QRCodeError) {
        let bytes = Array(text.utf8)
        errno = 0
        let symbol = bytes.withUnsafeBufferPointer { buffer in
            QRcode_encodeData(Int32(buffer.count), buffer.baseAddress, 0, QR_ECLEVEL_M)
        }
        guard let symbol else {
            if errno == ERANGE {
                throw QRCodeError(.tooLong, "\(bytes.count) bytes do not fit in a QR symbol at error correction M")
            }
            throw QRCodeError(.encodingFailed, "libqrencode failed (errno \(errno))")
        }
        defer { QRcode_free(symbol) }
        let width = Int(symbol.pointee.width)
        // Bit 0 of each byte is the module's colour (1: dark); the other bits are libqrencode's.
        let data = UnsafeBufferPointer(start: symbol.pointee.data, count: width * width)
        self.size = width
        self.version = Int(symbol.pointee.version)
        self.modules = data.map { $0 & 1 == 1 }
    }
}
