// The POSIX implementation of the state storage, for pump-sim and the tests on Linux and
// macOS. The Embedded (firmware) build has no file system: there this file compiles to
// nothing and the firmware hands the runtime a ``FlashSlotStorage``.
#if canImport(Glibc) || canImport(Darwin)

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The state file `STATE/SERIAL.state`, replaced whole: written to `.SERIAL.state.tmp`,
/// fsync'd, renamed over the old file, then the directory fsync'd.
public final class PumpStateFileStorage: PumpStateStorage {
    public let path: String

    public init(path: String) { self.path = path }

    public var location: String { self.path }

    public func load() throws(PumpRuntimeError) -> [UInt8]? {
        try DurableFile.load(self.path, limit: PumpStateFile.maximumLength)
    }

    public func store(_ record: [UInt8]) throws(PumpRuntimeError) {
        try DurableFile.replace(self.path, with: record)
    }
}

@available(*, unavailable)
extension PumpStateFileStorage: Sendable {}

/// Plain POSIX file I/O: the pump core has no Foundation.
enum DurableFile {
    /// The whole file, or nil when it does not exist.
    static func load(_ path: String, limit: Int) throws(PumpRuntimeError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw PumpRuntimeError(.stateIOFailed, "cannot open \(path): \(Self.lastError())")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw PumpRuntimeError(.stateIOFailed, "cannot read \(path): \(Self.lastError())") }
            if n == 0 { return bytes }
            bytes += chunk[0..<n]
            guard bytes.count <= limit else {
                throw PumpRuntimeError(.stateCorrupt, "\(path) is larger than any state file (\(limit) bytes)")
            }
        }
    }

    /// Replaces `path` with `bytes`: temporary file, fsync, rename, fsync of the directory.
    static func replace(_ path: String, with bytes: [UInt8]) throws(PumpRuntimeError) {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let temporary = (directory.isEmpty ? "" : directory + "/") + "." + name + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw PumpRuntimeError(.stateIOFailed, "cannot create \(temporary): \(Self.lastError())")
        }
        var written = 0
        var ok = true
        while ok && written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            ok = n > 0
            if ok { written += n }
        }
        ok = ok && fsync(fd) == 0
        let failure = ok ? "" : Self.lastError()
        close(fd)
        guard ok, rename(temporary, path) == 0 else {
            let reason = ok ? Self.lastError() : failure
            unlink(temporary)
            throw PumpRuntimeError(.stateIOFailed, "cannot write \(path): \(reason)")
        }
        let directoryFD = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryFD >= 0, fsync(directoryFD) == 0 else {
            let reason = Self.lastError()
            if directoryFD >= 0 { close(directoryFD) }
            throw PumpRuntimeError(.stateIOFailed, "cannot fsync the directory of \(path): \(reason)")
        }
        close(directoryFD)
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}

#endif
