import Foundation
import GatewayTLS
import MedTunnelPKI
import NIOCore
import NIOPosix
import Synchronization
import TunnelProtocol

/// The gateway end of pump tunnels for command tests, until the gateway's own command
/// pipeline lands: the real OpenSSL gateway TLS profile, the real inner codec, and a plan
/// of which signed commands to send after each hello. Records hellos and acknowledgements.
final class CommandTestGateway: Sendable {
    struct Record: Sendable {
        var hellos: [InnerMessage.Hello] = []
        var acknowledgements: [SignedAcknowledgement] = []
    }

    private let context: GatewayTLSContext
    private let record = Mutex(Record())
    /// The commands to send after a hello, given that hello.
    let plan: @Sendable (InnerMessage.Hello) -> [SignedCommand]

    init(pki: PKIDirectory, plan: @escaping @Sendable (InnerMessage.Hello) -> [SignedCommand]) throws {
        self.context = try GatewayTLSContext(
            .pumpServer(
                trustRootsPEM: try String(contentsOf: pki.caCertificate, encoding: .utf8),
                certificateChainPEM: try String(contentsOf: pki.gatewayCertificate, encoding: .utf8),
                privateKeyPEM: try String(contentsOf: pki.gatewayKey, encoding: .utf8)
            )
        )
        self.plan = plan
    }

    var recorded: Record { self.record.withLock { $0 } }

    /// Listens on 127.0.0.1 with an OS-chosen port; returns the channel (close it when done).
    func start() async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try GatewayTLSHandler(context: self.context))
                    try channel.pipeline.syncOperations.addHandler(Session(gateway: self))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }

    private final class Session: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let gateway: CommandTestGateway
        var decoder = InnerFrameDecoder()

        init(gateway: CommandTestGateway) { self.gateway = gateway }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            self.decoder.append(Array(Self.unwrapInboundIn(data).readableBytesView))
            while let message = try? self.decoder.next() {
                switch message {
                case .hello(let hello):
                    self.gateway.record.withLock { $0.hellos.append(hello) }
                    self.send(.helloAccepted(version: 1, gatewayTimeMilliseconds: 0), context)
                    for command in self.gateway.plan(hello) { self.send(.command(command), context) }
                case .telemetry(let telemetry):
                    self.send(.telemetryStored(sequence: telemetry.sequence), context)
                case .acknowledgement(let acknowledgement):
                    self.gateway.record.withLock { $0.acknowledgements.append(acknowledgement) }
                default:
                    break
                }
            }
        }

        func send(_ message: InnerMessage, _ context: ChannelHandlerContext) {
            context.writeAndFlush(
                Self.wrapOutboundOut(context.channel.allocator.buffer(bytes: message.encoded())),
                promise: nil
            )
        }
    }
}
