internal import CMbedTLS

/// SHA-256 and ECDSA P-256 for the pump, with mbedTLS (the library the firmware already
/// carries for TLS). Raw pointers stay in this file.
enum PumpCrypto {
    static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        let rc = bytes.withUnsafeBufferPointer { input in
            digest.withUnsafeMutableBufferPointer { output in
                mbedtls_sha256_ret(input.baseAddress, input.count, output.baseAddress, 0)
            }
        }
        precondition(rc == 0, "mbedtls_sha256_ret cannot fail for in-memory input (rc \(rc))")
        return digest
    }

    /// Runs `body` with two initialized big numbers (a signature's r and s), freed after.
    static func withSignatureNumbers<T>(
        _ body: (UnsafeMutablePointer<mbedtls_mpi>, UnsafeMutablePointer<mbedtls_mpi>) -> T
    ) -> T {
        let numbers = UnsafeMutablePointer<mbedtls_mpi>.allocate(capacity: 2)
        mbedtls_mpi_init(numbers)
        mbedtls_mpi_init(numbers + 1)
        defer {
            mbedtls_mpi_free(numbers)
            mbedtls_mpi_free(numbers + 1)
            numbers.deallocate()
        }
        return body(numbers, numbers + 1)
    }

    /// Parses a PEM key (public or private) into `context`; false when it is not a P-256 key.
    static func parse(
        _ pem: String,
        into context: UnsafeMutablePointer<mbedtls_pk_context>,
        isPrivate: Bool
    ) -> Bool {
        var bytes = Array(pem.utf8)
        bytes.append(0)  // mbedTLS' PEM parser wants the NUL counted in the length
        let rc = bytes.withUnsafeMutableBufferPointer { buffer in
            let rc =
                isPrivate
                ? mbedtls_pk_parse_key(context, buffer.baseAddress, buffer.count, nil, 0)
                : mbedtls_pk_parse_public_key(context, buffer.baseAddress, buffer.count)
            mbedtls_platform_zeroize(buffer.baseAddress, buffer.count)  // may hold a private key
            return rc
        }
        guard rc == 0, let pair = medtunnel_pk_ec_keypair(context) else { return false }
        return pair.pointee.grp.id == MBEDTLS_ECP_DP_SECP256R1
    }
}

/// The pinned command public key: verifies the gateway's command signatures.
final class CommandVerifyingKey {
    private let context: UnsafeMutablePointer<mbedtls_pk_context>

    /// nil when `pem` is not a P-256 public key.
    init?(publicKeyPEM pem: String) {
        self.context = .allocate(capacity: 1)
        mbedtls_pk_init(self.context)
        guard PumpCrypto.parse(pem, into: self.context, isPrivate: false) else { return nil }
    }

    deinit {
        mbedtls_pk_free(self.context)
        self.context.deallocate()
    }

    /// Whether `signature` (r ‖ s, 64 bytes) is this key's ECDSA signature over SHA-256 of
    /// `message`. mbedTLS rejects r or s outside 1…n−1.
    func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        guard signature.count == 64, let pair = medtunnel_pk_ec_keypair(self.context) else { return false }
        let hash = PumpCrypto.sha256(message)
        return PumpCrypto.withSignatureNumbers { r, s in
            guard mbedtls_mpi_read_binary(r, signature, 32) == 0,
                signature.withUnsafeBufferPointer({ mbedtls_mpi_read_binary(s, $0.baseAddress! + 32, 32) }) == 0
            else { return false }
            return mbedtls_ecdsa_verify(&pair.pointee.grp, hash, hash.count, &pair.pointee.Q, r, s) == 0
        }
    }
}

/// The pump's device key (the private key of its TLS certificate): signs acknowledgements.
/// Deterministic ECDSA (RFC 6979) with a DRBG only for blinding, so a weak RNG on a device
/// cannot leak the key through nonce reuse.
final class DeviceSigningKey {
    private let context: UnsafeMutablePointer<mbedtls_pk_context>
    private let entropy: UnsafeMutablePointer<mbedtls_entropy_context>
    private let drbg: UnsafeMutablePointer<mbedtls_ctr_drbg_context>

    /// nil when `pem` is not a P-256 private key or the random generator cannot be seeded.
    init?(privateKeyPEM pem: String) {
        self.context = .allocate(capacity: 1)
        self.entropy = .allocate(capacity: 1)
        self.drbg = .allocate(capacity: 1)
        mbedtls_pk_init(self.context)
        mbedtls_entropy_init(self.entropy)
        mbedtls_ctr_drbg_init(self.drbg)
        let personalization = Array("medtunnel-pump-ack".utf8)
        guard PumpCrypto.parse(pem, into: self.context, isPrivate: true),
            mbedtls_ctr_drbg_seed(self.drbg, mbedtls_entropy_func, self.entropy, personalization, personalization.count)
                == 0
        else { return nil }
    }

    deinit {
        mbedtls_ctr_drbg_free(self.drbg)
        mbedtls_entropy_free(self.entropy)
        mbedtls_pk_free(self.context)
        self.context.deallocate()
        self.entropy.deallocate()
        self.drbg.deallocate()
    }

    /// r ‖ s over SHA-256 of `message`.
    func sign(_ message: [UInt8]) -> [UInt8] {
        let pair = medtunnel_pk_ec_keypair(self.context)!
        let hash = PumpCrypto.sha256(message)
        var signature = [UInt8](repeating: 0, count: 64)
        let rc = PumpCrypto.withSignatureNumbers { r, s in
            signature.withUnsafeMutableBufferPointer { out -> Int32 in
                let signed = mbedtls_ecdsa_sign_det_ext(
                    &pair.pointee.grp,
                    r,
                    s,
                    &pair.pointee.d,
                    hash,
                    hash.count,
                    MBEDTLS_MD_SHA256,
                    mbedtls_ctr_drbg_random,
                    self.drbg
                )
                guard signed == 0 else { return signed }
                let rWritten = mbedtls_mpi_write_binary(r, out.baseAddress, 32)
                return rWritten != 0 ? rWritten : mbedtls_mpi_write_binary(s, out.baseAddress! + 32, 32)
            }
        }
        // Signing with a key that parsed and a seeded DRBG only fails when the platform's
        // entropy fails; the state is persisted before this point, so a restart is safe.
        precondition(rc == 0, "ECDSA signing with the device key failed (mbedTLS \(rc))")
        return signature
    }
}

@available(*, unavailable)
extension CommandVerifyingKey: Sendable {}

@available(*, unavailable)
extension DeviceSigningKey: Sendable {}
