public import Foundation
public import MedTunnelIdentity

#if canImport(Glibc)
import Glibc
#endif

/// The gateway's PKI folder, `PKI/gateway/`: exactly what the gateway runs with.
///
/// ```
/// DIR/ca.pem                        the MedTunnel CA certificate (its key stays in PKI/ca: CADirectory)
/// DIR/gateway.pem, DIR/gateway.key  the gateway's TLS server certificate
/// DIR/command.key, DIR/command.pem  the gateway's command-signing key and its public key
/// DIR/pumps/SERIAL.pem              one certificate per enrolled pump (its key never leaves the pump)
/// DIR/phones/ID.pem                 one certificate per enrolled phone relay
/// DIR/revoked.txt                   the revocation list the gateway checks at every handshake
/// ```
/// The gateway refuses a folder holding any other private key (``checkGatewayFolder()``).
/// Private keys are written with mode 0600, certificates 0644; every file is written to a
/// temporary name, fsync'd and renamed, so a crash leaves either the old file or the new one.
public struct PKIDirectory: Sendable {
    public let root: URL

    public init(_ path: String) {
        self.root = URL(fileURLWithPath: path, isDirectory: true)
    }

    public var caCertificate: URL { self.root.appendingPathComponent("ca.pem") }
    public var gatewayCertificate: URL { self.root.appendingPathComponent("gateway.pem") }
    public var gatewayKey: URL { self.root.appendingPathComponent("gateway.key") }
    public var revocationList: URL { self.root.appendingPathComponent("revoked.txt") }

    public func certificate(for identity: DeviceIdentity) -> URL {
        self.deviceDirectory(identity).appendingPathComponent("\(identity.name).pem")
    }

    func deviceDirectory(_ identity: DeviceIdentity) -> URL {
        switch identity {
        case .pump: return self.root.appendingPathComponent("pumps", isDirectory: true)
        case .phone: return self.root.appendingPathComponent("phones", isDirectory: true)
        }
    }

    func read(_ url: URL) throws -> String {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw PKIError(
                .missingFile,
                "\(url.path) does not exist; create the PKI with `medtunnel pki init --dir PKI` (this folder is then PKI/gateway)"
            )
        }
        do {
            return try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw PKIError(.unreadableFile, "\(url.path) cannot be read: \(error)")
        }
    }
}

/// Writes `contents` to `url` atomically and durably with the given permission bits.
public func writeFileDurably(_ contents: String, to url: URL, mode: mode_t) throws {
    let directory = url.deletingLastPathComponent()
    do {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    } catch {
        throw PKIError(.writeFailed, "cannot create directory \(directory.path): \(error)")
    }
    let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
    let fd = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else {
        throw PKIError(.writeFailed, "cannot create \(temporary.path): \(String(cString: strerror(errno)))")
    }
    var ok = fchmod(fd, mode) == 0
    let bytes = Array(contents.utf8)
    var written = 0
    while ok && written < bytes.count {
        let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        ok = n > 0
        if ok { written += n }
    }
    ok = ok && fsync(fd) == 0
    let savedErrno = errno
    close(fd)
    guard ok, rename(temporary.path, url.path) == 0 else {
        unlink(temporary.path)
        throw PKIError(.writeFailed, "cannot write \(url.path): \(String(cString: strerror(savedErrno)))")
    }
    let dirFD = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if dirFD >= 0 {
        fsync(dirFD)
        close(dirFD)
    }
}
