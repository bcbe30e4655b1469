public import GatewayTLS
public import Logging
public import NIOCore
import NIOHTTP2
import NIOPosix
import RelayFraming

/// Called on the relay's event loop for every pump link it accepts, before the link's first
/// byte: may add handlers to the link's pipeline (inbound: the pump's bytes; outbound: bytes to
/// the pump), which then sit between the link and its uplink stream. The second argument opens
/// extra streams (``PhoneRelay/openStream(_:)``). Tests and demos use it for a hostile relay.
public typealias PumpLinkInterposer =
    @Sendable (
        _ link: any Channel,
        _ openStream: @escaping @Sendable (_ initialize: @escaping @Sendable (any Channel) throws -> Void) -> Void
    ) throws -> Void

/// The phone relay: accepts pump links and carries each one as an HTTP/2 stream of the one
/// outer TLS 1.3 uplink it holds to the gateway, presenting the phone's own certificate. It
/// copies bytes and counts them; it cannot decrypt them (this module does not link the pump
/// TLS engine or the inner message codec).
///
/// All of it runs on one event loop: the uplink, its streams and every pump link.
public final class PhoneRelay: Sendable {
    public struct Configuration: Sendable {
        /// The phone's TLS client context (``GatewayTLSConfiguration/phoneClient(trustRootsPEM:certificateChainPEM:privateKeyPEM:gatewayHost:)``).
        public var tls: GatewayTLSContext
        public var gatewayHost: String
        public var gatewayPort: Int
        /// The `:authority` of each stream's request.
        public var authority: String
        /// Sees every byte the relay handles; for tests.
        public var tap: RelayByteTap?
        /// Put in every pump link's byte path (tests and demos: a hostile relay).
        public var interposer: PumpLinkInterposer?

        public init(
            tls: GatewayTLSContext,
            gatewayHost: String,
            gatewayPort: Int,
            tap: RelayByteTap? = nil,
            interposer: PumpLinkInterposer? = nil
        ) {
            self.tls = tls
            self.gatewayHost = gatewayHost
            self.gatewayPort = gatewayPort
            self.authority = "\(gatewayHost):\(gatewayPort)"
            self.tap = tap
            self.interposer = interposer
        }
    }

    public let configuration: Configuration
    public let counters = RelayCounters()
    public let eventLoop: any EventLoop
    private let logger: Logger
    private let uplink: NIOLoopBoundBox<(channel: any Channel, multiplexer: NIOHTTP2Handler.StreamMultiplexer)?>

    public init(configuration: Configuration, eventLoop: any EventLoop, logger: Logger) {
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.logger = logger
        self.uplink = .makeEmptyBox(eventLoop: eventLoop)
    }

    /// Connects the uplink and waits until the gateway has accepted the phone (its HTTP/2
    /// SETTINGS arrived). Throws the TLS failure (`GatewayTLSError`) or a ``RelayError``.
    /// Returns the uplink channel; its `closeFuture` completes when the uplink is lost.
    @discardableResult
    public func connectUplink() async throws -> any Channel {
        let ready = self.eventLoop.makePromise(of: NIOHTTP2Handler.StreamMultiplexer.self)
        let configuration = self.configuration
        let logger = self.logger
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: self.eventLoop)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connectTimeout(.seconds(10))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        if let tap = configuration.tap {
                            try sync.addHandler(RelayTapHandler(tap: tap, inbound: .uplinkIn, outbound: .uplinkOut))
                        }
                        try sync.addHandler(try GatewayTLSHandler(context: configuration.tls))
                        try sync.addHandler(UplinkHandshakeHandler(ready: ready, logger: logger))
                    }
                }
                .connect(host: configuration.gatewayHost, port: configuration.gatewayPort)
                .get()
        } catch {
            ready.fail(error)
            throw error
        }
        let multiplexer = try await ready.futureResult.get()
        let uplink = self.uplink
        self.counters.uplinkConnected()
        try await self.eventLoop.submit {
            uplink.value = (channel, multiplexer)
            channel.closeFuture.assumeIsolated().whenComplete { _ in
                if let current = uplink.value?.channel, current === channel { uplink.value = nil }
            }
        }.get()
        self.logger.info("uplink connected", metadata: ["gateway": "\(configuration.authority)"])
        return channel
    }

    /// Keeps the uplink: waits for `current` to close, then reconnects with `backoff` for as
    /// long as the task runs (connection failures and refusals alike, each logged and counted).
    /// While the uplink is down, arriving pump links are refused (`uplink_down`); links that
    /// were open when it was lost are closed with it, and their pumps reconnect (resuming
    /// their TLS sessions end to end). Cancelling the task closes the uplink and returns.
    public func keepUplink(after current: any Channel, backoff: RelayBackoff = RelayBackoff()) async {
        var backoff = backoff
        var channel: (any Channel)? = current
        while !Task.isCancelled {
            if let open = channel {
                await withTaskCancellationHandler {
                    try? await open.closeFuture.get()
                } onCancel: {
                    open.close(promise: nil)
                }
                channel = nil
                if Task.isCancelled { return }
                self.counters.uplinkLost()
                self.logger.warning("uplink lost; reconnecting", metadata: ["counters": "\(self.counters.snapshot)"])
            }
            let delay = backoff.failed()
            do {
                try await Task.sleep(for: delay)
                channel = try await self.connectUplink()
                backoff.connected()
            } catch {
                if Task.isCancelled { return }
                self.logger.warning(
                    "uplink reconnect failed",
                    metadata: ["error": "\(error)", "retry_in": "\(backoff.next)"]
                )
            }
        }
    }

    /// Closes the current uplink, if there is one, as if it were lost: its pump links close
    /// with it, and ``keepUplink(after:backoff:)`` connects a new one.
    public func closeUplink() async {
        let uplink = self.uplink
        let channel = try? await self.eventLoop.submit { uplink.value?.channel }.get()
        try? await channel?.close()
    }

    /// Opens one more stream on the current uplink, with no pump link behind it, and hands it
    /// to `initialize` after its ``RelayStreamHandler``; does nothing while the uplink is down.
    /// For a ``PumpLinkInterposer`` (a hostile relay replaying a recorded link).
    public func openStream(_ initialize: @escaping @Sendable (any Channel) throws -> Void) {
        let uplink = self.uplink
        let authority = self.configuration.authority
        self.eventLoop.execute {
            guard let (_, multiplexer) = uplink.value else { return }
            multiplexer.createStreamChannel(promise: nil) { stream in
                stream.eventLoop.makeCompletedFuture {
                    try stream.pipeline.syncOperations.addHandler(
                        RelayStreamHandler(role: .relay(authority: authority))
                    )
                    try initialize(stream)
                }
            }
        }
    }

    /// Starts accepting pump links. Each link becomes one stream of the uplink; a link that
    /// arrives while there is no uplink is closed and counted (`uplink_down`).
    public func listen(_ listener: some PumpLinkListener) async throws -> PumpLinkListening {
        let uplink = self.uplink
        let counters = self.counters
        let configuration = self.configuration
        let logger = self.logger
        return try await listener.start(on: self.eventLoop) { link in
            link.eventLoop.assertInEventLoop()
            guard let (_, multiplexer) = uplink.value else {
                counters.drop(.uplinkDown)
                logger.warning("pump link refused: no uplink")
                return link.close()
            }
            do {
                if let tap = configuration.tap {
                    try link.pipeline.syncOperations.addHandler(
                        RelayTapHandler(tap: tap, inbound: .fromPump, outbound: .toPump)
                    )
                }
                try configuration.interposer?(link, self.openStream)
            } catch {
                return link.eventLoop.makeFailedFuture(error)
            }
            let glue = NIOLoopBound(
                RelayGlueHandler.pair(counters: counters, logger: logger),
                eventLoop: link.eventLoop
            )
            let stream = link.eventLoop.makePromise(of: (any Channel).self)
            multiplexer.createStreamChannel(promise: stream) { stream in
                stream.eventLoop.makeCompletedFuture {
                    let sync = stream.pipeline.syncOperations
                    try sync.addHandler(RelayStreamHandler(role: .relay(authority: configuration.authority)))
                    try sync.addHandler(glue.value.stream)
                }
            }
            return stream.futureResult.assumeIsolated().flatMapThrowing { _ in
                try link.pipeline.syncOperations.addHandler(glue.value.link)
            }.flatMapError { error in
                counters.drop(.streamRefused)
                logger.warning("pump link refused: no stream", metadata: ["error": "\(error)"])
                return link.close()
            }.nonisolated()
        }
    }
}
