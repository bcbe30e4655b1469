import CommandPipeline
import GatewayTLS
import Logging
import MedTunnelIdentity
import NIOCore
import TunnelProtocol

/// The gateway's end of one pump's inner tunnel, above ``GatewayTLSHandler``: decodes inner
/// frames, answers hello, stores telemetry once per sequence (acknowledged once durable),
/// answers heartbeats. Any malformed frame ends the tunnel; so does a newer session of the
/// same pump, and silence longer than the idle timeout (an `IdleStateHandler` below it).
///
/// With a command pipeline (`commands`), the session is the pipeline's way to the pump: the
/// first hello opens the pump's link (the pipeline settles uncertain commands from it and sends
/// what is queued), every acknowledgement frame goes to the pipeline, and the end of the
/// session, however it ends, is reported (a command in flight becomes uncertain).
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
    private let commands: (any PumpSessionObserver)?
    /// This session as the command pipeline knows it, from the first hello on.
    private var link: PumpLink?

    init(
        registry: PumpRegistry,
        logger: Logger,
        carrier: String,
        commands: (any PumpSessionObserver)? = nil,
        clock: @escaping @Sendable () -> Int64
    ) {
        self.registry = registry
        self.logger = logger
        self.carrier = carrier
        self.commands = commands
        self.clock = clock
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .read? = event as? IdleStateHandler.IdleStateEvent {
            // Before the handshake completes its own timer governs; after it, silence ends the session.
            guard self.serial != nil else { return }
            self.logger.info("pump session idle; closing it")
            self.registry.metrics.sessionClosed(reason: "idle")
            context.close(promise: nil)
            return
        }
        guard case .established(let peer)? = event as? GatewayTLSEvent, case .pump(let serial)? = peer.identity else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        self.serial = serial
        self.logger[metadataKey: "device"] = "\(serial)"
        let channel = context.channel
        let start = self.registry.startSession(
            serial: serial,
            resumed: peer.resumed,
            now: self.clock(),
            carrier: self.carrier,
            close: { channel.close(promise: nil) }
        )
        self.session = start.number
        if let replaced = start.replaced {
            // One pump, one session: the newer one wins (the pump reconnected, perhaps through
            // another phone, before the gateway noticed the old link was gone), and the old
            // one is ended so that nothing more is accepted on it.
            replaced.close()
            self.registry.metrics.sessionClosed(reason: "replaced")
            self.logger.warning(
                "duplicate session: the older session is closed",
                metadata: ["replaced": "\(replaced.number)", "replaced_via": "\(replaced.carrier ?? "?")"]
            )
            self.registry.record(
                SecurityEvent(
                    timeMilliseconds: self.clock(),
                    kind: "duplicate_session",
                    device: serial,
                    detail:
                        "session \(start.number) via \(self.carrier) replaced session \(replaced.number) via \(replaced.carrier ?? "?"), which was closed",
                    carrier: self.carrier
                )
            )
        }
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
            if let commands = self.commands, self.link == nil {
                let channel = context.channel
                self.link = commands.pumpConnected(
                    serial: serial,
                    hello: hello,
                    channel: PumpSessionChannel(
                        carrier: self.carrier,
                        send: { frame in channel.writeAndFlush(channel.allocator.buffer(bytes: frame), promise: nil) },
                        close: { channel.close(promise: nil) }
                    )
                )
            }
        case .telemetry(let telemetry):
            guard self.saidHello else {
                throw TunnelProtocolError(.invalidField, "telemetry before hello")
            }
            self.accept(telemetry, serial: serial, now: now, context: context)
            if let link = self.link { self.commands?.telemetry(telemetry, on: link) }
        case .heartbeat(let nonce):
            self.send(.heartbeatReply(nonce: nonce), context)
        case .heartbeatReply:
            break
        case .acknowledgement(let signed):
            guard let commands = self.commands else { break }  // no pipeline: no commands were sent
            guard let link = self.link else {
                throw TunnelProtocolError(.invalidField, "acknowledgement before hello")
            }
            commands.acknowledgement(signed, on: link)
        case .pairingOffer(let offer):
            // Only on a session that said hello: the offer counts for the serial of this
            // session's verified certificate, never for one the pump names.
            guard let link = self.link else {
                guard self.saidHello else { throw TunnelProtocolError(.invalidField, "pairing offer before hello") }
                break  // no pipeline: nothing takes pairings
            }
            self.commands?.pairingOffer(offer, on: link)
        case .helloAccepted, .telemetryStored, .command:
            throw TunnelProtocolError(.invalidField, "a gateway-to-pump message came from the pump")
        }
    }

    /// Stores the message and acknowledges it once it is durable (the store's writer
    /// reports that on its own thread; the acknowledgement is written through the channel).
    /// A store that refuses it ends the session: the pump keeps unacknowledged telemetry and
    /// sends it again when it reconnects.
    private func accept(
        _ telemetry: InnerMessage.Telemetry,
        serial: String,
        now: Int64,
        context: ChannelHandlerContext
    ) {
        let channel = context.channel
        let logger = self.logger
        let sequence = telemetry.sequence
        let outcome = self.registry.acceptTelemetry(serial: serial, telemetry, now: now, carrier: self.carrier) {
            result in
            switch result {
            case .success:
                let ack = InnerMessage.telemetryStored(sequence: sequence).encoded()
                channel.writeAndFlush(channel.allocator.buffer(bytes: ack), promise: nil)
            case .failure(let error):
                logger.error("telemetry not stored; ending the session", metadata: ["error": "\(error)"])
                channel.close(promise: nil)
            }
        }
        switch outcome {
        case .stored:
            break
        case .duplicate:
            self.logger.debug("duplicate telemetry ignored", metadata: ["sequence": "\(sequence)"])
        case .unknownPump:
            context.close(promise: nil)
        case .refused(let error):
            self.logger.warning(
                "the telemetry store refused a message; ending the session",
                metadata: ["error": "\(error)"]
            )
            self.registry.metrics.sessionClosed(reason: "store_refused")
            context.close(promise: nil)
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
        var reason: String?
        var device = self.serial
        if let tls = error as? GatewayTLSError {
            kind = self.serial == nil ? "handshake_failed" : "tunnel_failed"
            reason = tls.eventReason
            device = device ?? tls.claimedIdentity.map(deviceName)
            self.logger.warning("TLS refused", metadata: ["code": "\(tls.code)", "reason": "\(tls.reason)"])
        } else {
            kind = "error"
            self.logger.warning("session error", metadata: ["error": "\(error)"])
        }
        self.registry.record(
            SecurityEvent(
                timeMilliseconds: self.clock(),
                kind: kind,
                device: device,
                detail: "\(error)",
                carrier: self.carrier,
                reason: reason
            )
        )
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let serial = self.serial {
            self.registry.sessionEnded(serial: serial, session: self.session, now: self.clock())
            if let link = self.link { self.commands?.pumpDisconnected(link) }
            self.logger.info("pump disconnected")
        }
        context.fireChannelInactive()
    }
}

@available(*, unavailable)
extension PumpSessionHandler: Sendable {}

/// How events name a device: a pump by its serial, a phone as `phone ID`.
func deviceName(_ identity: DeviceIdentity) -> String {
    switch identity {
    case .pump(let serial): return serial
    case .phone(let id): return "phone \(id)"
    }
}
