internal import CMbedTLS

/// The two byte queues between mbedTLS and the caller. mbedTLS reads ciphertext from
/// `inbound` and writes ciphertext to `outbound` through the BIO callbacks below; nothing
/// here does I/O. Both sides are capped by the connection (see `PumpTLSLimits`).
final class PumpTLSIOBuffers {
    /// Ciphertext fed, not yet consumed; bytes before `inboundStart` are consumed.
    private var inbound: [UInt8] = []
    private var inboundStart = 0
    /// Ciphertext produced, not yet taken.
    var outbound: [UInt8] = []

    var bufferedInbound: Int { self.inbound.count - self.inboundStart }

    func appendInbound(_ bytes: [UInt8]) {
        if self.inboundStart > 0 && self.inboundStart >= self.inbound.count / 2 {
            self.inbound.removeFirst(self.inboundStart)
            self.inboundStart = 0
        }
        self.inbound.append(contentsOf: bytes)
    }

    func takeOutbound() -> [UInt8] {
        defer { self.outbound = [] }
        return self.outbound
    }

    /// Copies up to `count` inbound bytes to `destination`; 0 when there are none.
    fileprivate func readInbound(into destination: UnsafeMutablePointer<UInt8>, count: Int) -> Int {
        let available = min(count, self.bufferedInbound)
        guard available > 0 else { return 0 }
        self.inbound.withUnsafeBufferPointer { source in
            destination.update(from: source.baseAddress! + self.inboundStart, count: available)
        }
        self.inboundStart += available
        if self.inboundStart == self.inbound.count {
            self.inbound.removeAll(keepingCapacity: true)
            self.inboundStart = 0
        }
        return available
    }

    /// Installs the BIO callbacks on `ssl`. The context is unretained: the connection owns
    /// both `ssl` and these buffers and frees `ssl` first.
    func install(on ssl: UnsafeMutablePointer<mbedtls_ssl_context>) {
        mbedtls_ssl_set_bio(ssl, Unmanaged.passUnretained(self).toOpaque(), pumpTLSSend, pumpTLSReceive, nil)
    }
}

/// mbedTLS' send callback: queue everything (the cap is enforced before writing).
private func pumpTLSSend(_ context: UnsafeMutableRawPointer?, _ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    guard let context, let bytes else { return MBEDTLS_ERR_SSL_INTERNAL_ERROR }
    let buffers = Unmanaged<PumpTLSIOBuffers>.fromOpaque(context).takeUnretainedValue()
    buffers.outbound.append(contentsOf: UnsafeBufferPointer(start: bytes, count: count))
    return Int32(count)
}

/// mbedTLS' receive callback: hand over what was fed, or WANT_READ when nothing is buffered.
private func pumpTLSReceive(
    _ context: UnsafeMutableRawPointer?,
    _ bytes: UnsafeMutablePointer<UInt8>?,
    _ count: Int
)
    -> Int32
{
    guard let context, let bytes else { return MBEDTLS_ERR_SSL_INTERNAL_ERROR }
    let buffers = Unmanaged<PumpTLSIOBuffers>.fromOpaque(context).takeUnretainedValue()
    let copied = buffers.readInbound(into: bytes, count: count)
    return copied == 0 ? MBEDTLS_ERR_SSL_WANT_READ : Int32(copied)
}
