internal import COpenSSL

/// Reading PEM certificates and keys from memory.
enum PEMReader {
    static func certificates(_ pem: String) throws -> [OpaquePointer] {
        var bytes = Array(pem.utf8)
        return try bytes.withUnsafeMutableBytes { buffer -> [OpaquePointer] in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else {
                throw OpenSSLErrorQueue.configurationError("BIO_new_mem_buf failed")
            }
            defer { BIO_free(bio) }
            var result: [OpaquePointer] = []
            while let certificate = PEM_read_bio_X509(bio, nil, nil, nil) {
                result.append(certificate)
            }
            ERR_clear_error()  // the loop ends with a "no start line" error
            return result
        }
    }

    static func privateKey(_ pem: String) throws -> OpaquePointer {
        var bytes = Array(pem.utf8)
        return try bytes.withUnsafeMutableBytes { buffer -> OpaquePointer in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else {
                throw OpenSSLErrorQueue.configurationError("BIO_new_mem_buf failed")
            }
            defer { BIO_free(bio) }
            guard let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else {
                throw OpenSSLErrorQueue.configurationError("the private key is not a PEM private key")
            }
            return key
        }
    }
}

/// OpenSSL's per-thread error queue, drained into Swift values.
///
/// The queue is shared by every connection on a thread (an event loop), so every `SSL_*`
/// call is preceded by `ERR_clear_error()` and every failure drains it completely.
enum OpenSSLErrorQueue {
    struct Entry {
        let library: Int32
        let reason: Int32
        let text: String
    }

    static func drain() -> [Entry] {
        var entries: [Entry] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            let text = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            entries.append(Entry(library: ERR_GET_LIB(code), reason: ERR_GET_REASON(code), text: text))
        }
        return entries
    }

    static func configurationError(_ what: String, file: String = #fileID, line: Int = #line) -> GatewayTLSError {
        GatewayTLSError(.configuration, what, openSSLErrors: drain().map(\.text), file: file, line: line)
    }
}
