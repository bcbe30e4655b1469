import FirmwarePlatform
import PumpTLS
import TunnelProtocol

/// Prints a progress line on the log UART. Never key material, never payloads.
func log(_ text: String) {
    var line = Array(text.utf8)
    line.append(UInt8(ascii: "\n"))
    line.withUnsafeBufferPointer { fw_log($0.baseAddress, $0.count) }
}

/// What one session measured (the footprint report reads these lines).
struct SessionFigures {
    var handshakeBytesSent = 0
    var handshakeBytesReceived = 0
    /// Emulated nanoseconds inside mbedTLS during the handshake, waits for the link excluded:
    /// instructions under `-icount shift=0`.
    var handshakeComputeNanoseconds: UInt64 = 0
    var handshakeHeapPeak = 0
    /// Heap in use when the handshake started (the peak includes it).
    var heapBeforeHandshake = 0
}

/// One TLS session of the pump over the UART link: the sans-IO engine of PumpTLS driven by
/// polling the link, as SimulatedPumpHandler drives it from a NIO channel in pump-sim.
final class LinkSession {
    let tls: PumpTLSConnection
    private var decoder = InnerFrameDecoder()
    private var pending: [InnerMessage] = []
    var figures = SessionFigures()
    private var handshaking = true

    init(_ tls: PumpTLSConnection) { self.tls = tls }

    enum Outcome {
        case established
        case failed(String)
    }

    /// Sends the ClientHello and runs the handshake until it is established or fails; gives
    /// up after `timeoutMilliseconds` without a byte from the gateway.
    func handshake(timeoutMilliseconds: UInt32) -> Outcome {
        fw_heap_reset_peak()
        self.figures.heapBeforeHandshake = fw_heap_in_use()
        self.compute { self.tls.startHandshake() }
        self.flush()
        while true {
            switch self.tls.state {
            case .established:
                self.handshaking = false
                self.figures.handshakeHeapPeak = fw_heap_peak()
                return .established
            case .failed(let error):
                self.flush()  // the fatal alert, for the gateway's log
                return .failed("\(error)")
            case .closed:
                return .failed("the gateway closed the link during the handshake")
            case .handshaking:
                break
            }
            let bytes = self.receive(timeoutMilliseconds: timeoutMilliseconds)
            if bytes.isEmpty { return .failed("no answer from the gateway within \(timeoutMilliseconds) ms") }
            self.compute { self.tls.feed(ciphertext: bytes) }
            self.flush()
        }
    }

    /// Sends one inner message.
    func send(_ message: InnerMessage) -> Bool {
        do {
            try self.tls.write(plaintext: message.encoded())
        } catch {
            log("firmware: sending failed: \(error)")
            return false
        }
        self.flush()
        return true
    }

    /// The next inner message from the gateway, nil after `timeoutMilliseconds` of silence,
    /// when the session closed or failed.
    func next(timeoutMilliseconds: UInt32) -> InnerMessage? {
        while true {
            if !self.pending.isEmpty { return self.pending.removeFirst() }
            guard self.tls.state == .established else { return nil }
            let bytes = self.receive(timeoutMilliseconds: timeoutMilliseconds)
            if bytes.isEmpty { return nil }
            self.tls.feed(ciphertext: bytes)
            self.flush()
            self.decoder.append(self.tls.readPlaintext())
            do {
                while let message = try self.decoder.next() { self.pending.append(message) }
            } catch {
                log("firmware: undecodable message from the gateway: \(error)")
                return nil
            }
        }
    }

    /// close_notify, then reads until the link is quiet: the gateway's close_notify and the end
    /// of this TCP connection on QEMU's side must not run into the next session's ClientHello.
    func close() {
        self.tls.close()
        self.flush()
        while !self.receive(timeoutMilliseconds: 1_500).isEmpty {}
    }

    private func receive(timeoutMilliseconds: UInt32) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = buffer.withUnsafeMutableBufferPointer {
            fw_link_read($0.baseAddress, $0.count, timeoutMilliseconds, 20)
        }
        if self.handshaking { self.figures.handshakeBytesReceived += count }
        return Array(buffer[0..<count])
    }

    private func flush() {
        let bytes = self.tls.takeOutbound()
        guard !bytes.isEmpty else { return }
        if self.handshaking { self.figures.handshakeBytesSent += bytes.count }
        bytes.withUnsafeBufferPointer { fw_link_write($0.baseAddress, $0.count) }
    }

    private func compute(_ body: () -> Void) {
        let start = fw_virtual_ns()
        body()
        if self.handshaking { self.figures.handshakeComputeNanoseconds += fw_virtual_ns() - start }
    }
}
