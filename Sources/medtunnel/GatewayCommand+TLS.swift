import Foundation
import GatewayTLS

#if canImport(Glibc)
import Glibc
#endif

/// HTTPS for the operator API: `--api-tls-cert` and `--api-tls-key`, checked at start so that a
/// gateway that would serve a broken or exposed key never listens. Each refusal names the flag,
/// the file and what to do.
extension GatewayCommand {
    /// The API listener's TLS context, or nil without the TLS flags (validate() made sure they
    /// come together).
    func apiTLSContext() throws -> GatewayTLSContext? {
        guard let certificatePath = self.apiTLSCert, let keyPath = self.apiTLSKey else { return nil }
        let certificate = try Self.readPEM(flag: "--api-tls-cert", path: certificatePath)
        let key = try Self.readPEM(flag: "--api-tls-key", path: keyPath, secret: true)
        guard certificate.contains("-----BEGIN CERTIFICATE-----") else {
            throw GatewayStartError(
                "--api-tls-cert \(certificatePath) holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
            )
        }
        guard key.contains("PRIVATE KEY-----") else {
            throw GatewayStartError(
                "--api-tls-key \(keyPath) holds no PEM private key (-----BEGIN PRIVATE KEY-----); "
                    + "an encrypted key is not supported: decrypt it with `openssl pkey`"
            )
        }
        do {
            return try GatewayTLSContext(.apiServer(certificateChainPEM: certificate, privateKeyPEM: key))
        } catch let error as GatewayTLSError where error.code == .privateKeyMismatch {
            throw GatewayStartError(
                "--api-tls-key \(keyPath) is not the private key of the certificate in --api-tls-cert \(certificatePath); "
                    + "give the key the certificate was issued for"
            )
        } catch let error as GatewayTLSError {
            throw GatewayStartError(
                "--api-tls-cert \(certificatePath) / --api-tls-key \(keyPath) refused by OpenSSL: \(error.reason)"
                    + (error.openSSLErrors.isEmpty ? "" : " (\(error.openSSLErrors.joined(separator: "; ")))")
            )
        }
    }

    /// A PEM file's text; a `secret` must not be readable by group or others.
    private static func readPEM(flag: String, path: String, secret: Bool = false) throws -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw GatewayStartError("\(flag) \(path): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw GatewayStartError("\(flag) \(path) is not a file (a PEM file is expected)")
        }
        if secret && info.st_mode & 0o077 != 0 {
            throw GatewayStartError(
                "\(flag) \(path) is readable by group or others (mode \(String(info.st_mode & 0o777, radix: 8))); "
                    + "chmod 600 it"
            )
        }
        // Read through open(2), so that a file we may not read is refused with the system's reason.
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw GatewayStartError("\(flag) \(path) cannot be read: \(String(cString: strerror(errno)))")
        }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        guard let data = try? handle.readToEnd(), let text = String(data: data, encoding: .utf8) else {
            throw GatewayStartError("\(flag) \(path) cannot be read as text (a PEM file is expected)")
        }
        return text
    }
}
