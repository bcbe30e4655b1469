internal import CQRCode

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension QRCode {
    /// The symbol as a PNG: 8-bit grey, `scale` pixels per module, `quietZone` light modules
    /// around it (4, as ISO/IEC 18004 asks, unless told).
    public func pngBytes(scale: Int = 6, quietZone: Int = QRCode.quietZone) throws(QRCodeError) -> [UInt8] {
        let scale = max(1, scale)
        let side = (self.size + 2 * max(0, quietZone)) * scale
        var pixels = [UInt8](repeating: 255, count: side * side)
        for y in 0..<self.size {
            for x in 0..<self.size where self.isDark(x: x, y: y) {
                for dy in 0..<scale {
                    let row = ((y + quietZone) * scale + dy) * side + (x + quietZone) * scale
                    for dx in 0..<scale { pixels[row + dx] = 0 }
                }
            }
        }
        var size = 0
        guard medtunnel_png_write_gray(pixels, UInt32(side), UInt32(side), nil, &size) == 1, size > 0 else {
            throw QRCodeError(.pngFailed, "libpng could not size a \(side)x\(side) grey image")
        }
        var png = [UInt8](repeating: 0, count: size)
        let ok = png.withUnsafeMutableBytes { out in
            medtunnel_png_write_gray(pixels, UInt32(side), UInt32(side), out.baseAddress, &size)
        }
        guard ok == 1 else { throw QRCodeError(.pngFailed, "libpng could not encode a \(side)x\(side) grey image") }
        return Array(png.prefix(size))
    }

    /// Writes ``pngBytes(scale:quietZone:)`` to `path` durably: a temporary file beside it,
    /// fsync'd, renamed over `path`, and the directory fsync'd, so a reader never sees half an
    /// image and a crash leaves the old file or the new one.
    public func writePNG(to path: String, scale: Int = 6) throws(QRCodeError) {
        try Self.writeDurably(try self.pngBytes(scale: scale), to: path)
    }

    static func writeDurably(_ bytes: [UInt8], to path: String) throws(QRCodeError) {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Self.writeError("create \(temporary)") }
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let error = Self.writeError("write \(temporary)")
                close(fd)
                unlink(temporary)
                throw error
            }
            written += n
        }
        guard fsync(fd) == 0 else {
            let error = Self.writeError("fsync \(temporary)")
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let error = Self.writeError("rename \(temporary) to \(path)")
            unlink(temporary)
            throw error
        }
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let dirfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 {
            defer { close(dirfd) }
            guard fsync(dirfd) == 0 else { throw Self.writeError("fsync directory \(directory)") }
        }
    }

    private static func writeError(_ what: String) -> QRCodeError {
        QRCodeError(.writeFailed, "\(what): \(String(cString: strerror(errno)))")
    }
}
