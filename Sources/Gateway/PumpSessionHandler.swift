import GatewayTLS
import Logging
import MedTunnelIdentity
import NIOCore
import TunnelProtocol

/// The gateway's end of one pump's inner tunnel, above ``GatewayTLSHandler``: decodes inner
/// frames, answers hello, stores telemetry once per sequence, answers heartbeats. Any
/// malformed frame ends the tunnel.
final class PumpSessionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let registry: PumpRegistry
    private var logger: Logger
    private let clock: @Sendable () -> Int64
    private var serial: String?
    /// This session's number for its pump (from the registry).
    private var session = 0
    private var saidHello = false
    private var decoder = InnerFrameDecoder()
    private let carrier: String

    init(registry: PumpRegistry, logger: Logger, carrier: String, clock: @escaping @Sendable () -> Int64) {
        self.registry = registry
        self.logger = logger
        self.carrier = carrier
        self.clock = clock
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case .established(let peer)? = event as? GatewayTLSEvent, case .pump(let serial)? = peer.identity else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        self.serial = serial
        self.logger[metadataKey: "device"] = "\(serial)"
        if let previous = self.registry.pump(serial), previous.connected {
            self.registry.record(
                SecurityEvent(
                    timeMilliseconds: self.clock(),
                    kind: "duplicate_session",
                    device: serial,
                    detail: "a second session replaced the first",
                    carrier: self.carrier
                )
            )
        }
        self.session = self.registry.sessionStarted(
            serial: serial,
            resumed: peer.resumed,
            now: self.clock(),
            carrier: self.carrier
        )
        self.logger.info(
            "pump connected",
            metadata: ["resumed": "\(peer.resumed)", "suite": "\(peer.cipherSuite)", "via": "\(self.carrier)"]
        )
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let serial = self.serial else { return }
        self.decoder.append(Array(Self.unwrapInboundIn(data).readableBytesView))
        do {
            while let message = try self.decoder.next() {
                try self.handle(message, serial: serial, context: context)
            }
        } catch {
            self.logger.warning("malformed inner frame; ending the tunnel", metadata: ["error": "\(error)"])
            self.registry.record(
                SecurityEvent(
                    timeMilliseconds: self.clock(),
                    kind: "protocol_violation",
                    device: serial,
                    detail: "\(error)",
                    carrier: self.carrier
                )
            )
            context.close(promise: nil)
        }
    }

    private func handle(_ message: InnerMessage, serial: String, context: ChannelHandlerContext) throws {
        let now = self.clock()
        switch message {
        case .hello(let hello):
            self.saidHello = true
            self.registry.hello(serial: serial, firmware: hello.firmware, now: now)
            self.send(.helloAccepted(version: InnerMessage.Hello.currentVersion, gatewayTimeMilliseconds: now), context)
        case .telemetry(let telemetry):
            guard self.saidHello else {
                throw TunnelProtocolError(.invalidField, "telemetry before hello")
            }
            if !self.registry.storeTelemetry(serial: serial, telemetry, now: now) {
                self.logger.debug("duplicate telemetry ignored", metadata: ["sequence": "\(telemetry.sequence)"])
            }
            self.send(.telemetryStored(sequence: telemetry.sequence), context)
        case .heartbeat(let nonce):
            self.send(.heartbeatReply(nonce: nonce), context)
        case .heartbeatReply:
            break
        case .acknowledgement:
            break  // The command pipeline (issue 6) records acknowledgements; none are sent yet.
        case .helloAccepted, .telemetryStored, .command:
            throw TunnelProtocolError(.invalidField, "a gateway-to-pump message came from the pump")
        }
    }

    private func send(_ message: InnerMessage, _ context: ChannelHandlerContext) {
        context.writeAndFlush(
            Self.wrapOutboundOut(context.channel.allocator.buffer(bytes: message.encoded())),
            promise: nil
        )
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let kind: String
        if let tls = error as? GatewayTLSError {
            kind = self.serial == nil ? "handshake_failed" : "tunnel_failed"
            self.logger.warning("TLS refused", metadata: ["code": "\(tls.code)", "reason": "\(tls.reason)"])
        } else {
            kind = "error"
            self.logger.warning("session error", metadata: ["error": "\(error)"])
        }
        self.registry.record(
            SecurityEvent(
                timeMilliseconds: self.clock(),
                kind: kind,
                device: self.serial,
                detail: "\(error)",
                carrier: self.carrier
            )
        )
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let serial = self.serial {
            self.registry.sessionEnded(serial: serial, session: self.session, now: self.clock())
            self.logger.info("pump disconnected")
        }
        context.fireChannelInactive()
    }
}

@available(*, unavailable)
extension PumpSessionHandler: Sendable {}
