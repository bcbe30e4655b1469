import ArgumentParser
import Foundation
import Gateway
import NIOCore
import StateBackup

#if canImport(Glibc)
import Glibc
#endif

/// The gateway's checks of its own options, each failure naming the flag, the value and what to
/// do, before anything is opened.
extension GatewayCommand {
    /// `--pki` must be the gateway folder that `pki init` made (PKI/gateway).
    static func checkPKIFolder(_ path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw GatewayStartError(
                "--pki \(path): no such directory. Give the gateway folder that `medtunnel pki init --dir PKI` "
                    + "made (PKI/gateway); create a new PKI only if this gateway has none"
            )
        }
        let root = URL(fileURLWithPath: path)
        if FileManager.default.fileExists(atPath: root.appendingPathComponent("ca").path),
            FileManager.default.fileExists(atPath: root.appendingPathComponent("gateway").path)
        {
            throw GatewayStartError(
                "--pki \(path) is a PKI root (it holds the CA folder \(path)/ca, which the gateway must not read); "
                    + "run the gateway with its gateway folder instead: --pki \(root.appendingPathComponent("gateway").path)"
            )
        }
        let certificate = root.appendingPathComponent("gateway.pem").path
        guard FileManager.default.fileExists(atPath: certificate) else {
            throw GatewayStartError(
                "--pki \(path) holds no gateway certificate (gateway.pem): is it the PKI's gateway folder "
                    + "(PKI/gateway, made by `medtunnel pki init`)?"
            )
        }
    }

    /// Creates `--state-dir` (mode 0700, parents included) or says why it cannot be.
    static func prepareStateDirectory(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw GatewayStartError("--state-dir \(path) is a file, not a directory")
            }
            guard access(path, W_OK) == 0 else {
                throw GatewayStartError(
                    "--state-dir \(path) is not writable: \(String(cString: strerror(errno)))"
                )
            }
            return
        }
        // mkdir -p by hand, so a failure names the component and the system's reason.
        var built = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            built += "/" + component
            if mkdir(built, 0o700) != 0 && errno != EEXIST {
                throw GatewayStartError(
                    "--state-dir \(path) cannot be created: \(built): \(String(cString: strerror(errno)))"
                )
            }
        }
    }

    /// Takes the state directory's lock (STATE/gateway.lock) before anything in it is opened: a
    /// second gateway is refused, naming the PID that holds it; then waits for the commands
    /// writing beside the previous gateway, so that its crash recovery runs alone.
    static func lockStateDirectory(_ path: String, command: String = "medtunnel gateway") throws -> StateDirectoryLock {
        do throws(StateBackupError) {
            let lock = try StateDirectoryLock.acquire(
                stateDirectory: path,
                role: .gateway,
                command: command
            )
            try lock.holdWritersOut()
            return lock
        } catch {
            throw GatewayStartError(error.reason)
        }
    }

    /// Runs a bind, turning "address in use" and its kin into a message naming the flag.
    static func listening<T>(_ flag: String, _ address: HostPort, _ bind: () async throws -> T) async throws -> T {
        do {
            return try await bind()
        } catch let error as IOError {
            throw GatewayStartError(
                "cannot listen on \(address) (\(flag)): \(String(cString: strerror(error.errnoCode)))"
                    + (error.errnoCode == EADDRINUSE ? "; another process holds that port, choose another" : "")
            )
        }
    }
}

/// Why the gateway cannot start, said once on stderr (`Error: …`, exit 1) without the usage
/// text: the options were well-formed, the machine refused them.
struct GatewayStartError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
