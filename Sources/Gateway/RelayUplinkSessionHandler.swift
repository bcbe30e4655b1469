import Foundation
import GatewayTLS
import Logging
import NIOCore
import NIOHTTP2
import RelayFraming

/// The gateway's end of one phone relay's uplink, above the outer ``GatewayTLSHandler``
/// (phone profile: TLS 1.3, the client certificate must name a phone and not be revoked).
/// Once the phone is authenticated it puts the HTTP/2 server on the channel; each stream the
/// phone opens gets its own inner pump session, built by the same ``PumpSessionInstaller`` as
/// a direct pump connection, with the phone as its carrier.
final class RelayUplinkSessionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let sessions: PumpSessionInstaller
    private let phones: PhoneRegistry
    private var logger: Logger
    private let remote: String
    private var phone: String?
    /// This uplink's number in the phone registry and its traffic, once the phone is known.
    private var uplink: (number: Int, traffic: UplinkTraffic)?

    init(sessions: PumpSessionInstaller, phones: PhoneRegistry, remote: String) {
        self.sessions = sessions
        self.phones = phones
        self.remote = remote
        self.logger = sessions.logger
        self.logger[metadataKey: "relay"] = "\(remote)"
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .read? = event as? IdleStateHandler.IdleStateEvent {
            // An authenticated uplink that carries no pump and says nothing (not even an
            // HTTP/2 PING) is closed; pumps' own sessions have their own idle timeout.
            guard let uplink = self.uplink, uplink.traffic.openStreams == 0 else { return }
            self.logger.info("relay uplink idle with no pump streams; closing it")
            self.sessions.registry.metrics.uplinkClosed(reason: "idle")
            context.close(promise: nil)
            return
        }
        guard case .established(let peer)? = event as? GatewayTLSEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        // The phone profile already refuses any other identity; checked again because the
        // carrier name below must be a phone's.
        guard case .phone(let id)? = peer.identity else {
            self.record(
                "relay_identity_rejected",
                device: peer.identity?.description,
                "\(String(describing: peer.identity)) is not a phone"
            )
            context.close(promise: nil)
            return
        }
        if let reason = self.phones.shutOutReason(id) {
            self.logger.warning("a shut-out phone tried to connect; closing its uplink", metadata: ["phone": "\(id)"])
            self.record("relay_shut_out", device: "phone \(id)", "phone \(id) is shut out (\(reason)); uplink refused")
            context.close(promise: nil)
            return
        }
        self.phone = id
        self.logger[metadataKey: "phone"] = "\(id)"
        self.logger.info("relay connected", metadata: ["suite": "\(peer.cipherSuite)"])
        let channel = context.channel
        let uplink = self.phones.uplinkStarted(
            phone: id,
            remote: self.remote,
            now: self.sessions.clock(),
            close: { channel.close(promise: nil) }
        )
        self.uplink = uplink
        self.sessions.registry.metrics.uplinkStarted()
        // Shut out between the check above and the registration: `shutOut` missed this uplink.
        guard self.phones.shutOutReason(id) == nil else {
            context.close(promise: nil)
            return
        }
        let sessions = self.sessions
        let carrier = "phone \(id)"
        let traffic = uplink.traffic
        do {
            _ = try RelayWireFormat.configureHTTP2(on: context.pipeline.syncOperations, mode: .server) { stream in
                stream.eventLoop.makeCompletedFuture {
                    let sync = stream.pipeline.syncOperations
                    try sync.addHandler(RelayStreamHandler(role: .gateway))
                    try sync.addHandler(CarriedTrafficHandler(traffic: traffic))
                    try sessions.install(on: sync, carrier: carrier)
                }
            }
            try context.pipeline.syncOperations.addHandler(
                RelayUplinkProtocolHandler(sessions: sessions, logger: self.logger, carrier: carrier)
            )
        } catch {
            self.logger.error("cannot start HTTP/2 on the uplink", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let tls = error as? GatewayTLSError {
            self.logger.warning("relay TLS refused", metadata: ["code": "\(tls.code)", "reason": "\(tls.reason)"])
            self.record(
                self.phone == nil ? "relay_handshake_failed" : "relay_tunnel_failed",
                device: self.phone.map { "phone \($0)" } ?? tls.claimedIdentity.map(deviceName),
                "\(tls)",
                reason: tls.eventReason
            )
        } else {
            self.logger.warning("relay uplink error", metadata: ["error": "\(error)"])
            self.record("relay_error", device: self.phone.map { "phone \($0)" }, "\(error)")
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if self.phone != nil { self.logger.info("relay disconnected") }
        if let uplink = self.uplink { self.phones.uplinkEnded(uplink.number, now: self.sessions.clock()) }
        context.fireChannelInactive()
    }

    /// Before the phone is known, the carrier is its address (`direct HOST:PORT`), so that a flood
    /// of unauthenticated uplinks is counted per source.
    private func record(_ kind: String, device: String?, _ detail: String, reason: String? = nil) {
        let carrier = self.phone.map { "phone \($0)" } ?? "direct \(self.remote)"
        self.sessions.record(kind, device: device, detail, carrier: carrier, reason: reason)
    }
}

/// The end of an authenticated uplink's pipeline, after the HTTP/2 handler: sees the
/// connection-level frames and errors. A phone that breaks HTTP/2 (bad frames, flow-control
/// violations, too many resets) loses its uplink and is named in a security event.
final class RelayUplinkProtocolHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame

    private let sessions: PumpSessionInstaller
    private let logger: Logger
    private let carrier: String

    init(sessions: PumpSessionInstaller, logger: Logger, carrier: String) {
        self.sessions = sessions
        self.logger = logger
        self.carrier = carrier
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .goAway(_, let code, _) = Self.unwrapInboundIn(data).payload {
            self.logger.info("relay is going away", metadata: ["code": "\(code)"])
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.logger.warning("relay broke the relay protocol", metadata: ["error": "\(error)"])
        self.sessions.record(
            "relay_protocol_violation",
            device: self.carrier,
            "\(error)",
            carrier: self.carrier,
            reason: nil
        )
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension RelayUplinkSessionHandler: Sendable {}
@available(*, unavailable)
extension RelayUplinkProtocolHandler: Sendable {}

/// Counts one pump stream on a phone's uplink and the pump ciphertext it carries, between
/// the stream's framing and the pump's inner TLS.
final class CarriedTrafficHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let traffic: UplinkTraffic

    init(traffic: UplinkTraffic) { self.traffic = traffic }

    func handlerAdded(context: ChannelHandlerContext) { self.traffic.streamOpened() }
    func handlerRemoved(context: ChannelHandlerContext) { self.traffic.streamClosed() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.traffic.carried(fromPhone: Self.unwrapInboundIn(data).readableBytes)
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        self.traffic.carried(toPhone: Self.unwrapOutboundIn(data).readableBytes)
        context.write(data, promise: promise)
    }
}

@available(*, unavailable)
extension CarriedTrafficHandler: Sendable {}
