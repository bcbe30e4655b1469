public import Logging
public import NIOCore

/// A hostile phone relay for tests and demos: sits in the byte path of every pump link a
/// relay carries (between the link and its uplink stream) and does what its
/// ``HostilitySpec`` says, deterministically for a given seed. It never reads what the bytes
/// mean (this module links neither the pump TLS engine nor the inner codec); it sees TLS
/// record headers, which travel in clear.
///
/// Install it with a relay's link hook (`PhoneRelay.Configuration.interposer`):
/// `{ link, openStream in try hostile.install(on: link, openStream: openStream) }`. Links are
/// numbered in the order they are installed, from 1. Everything runs on `eventLoop`, the
/// relay's one event loop. Each action is counted (``counters``) and logged (behaviour,
/// link, direction, record number and size; never contents).
public final class HostileRelay: Sendable {
    /// Opens one more stream on the relay's uplink and calls `initialize` with it (after the
    /// relay's own stream handler), or does nothing when there is no uplink.
    public typealias StreamOpener = @Sendable (_ initialize: @escaping @Sendable (any Channel) throws -> Void) -> Void

    /// The most pump→gateway bytes recorded per link for `replay`.
    public static let maximumRecordingBytes = 64 * 1024

    public let spec: HostilitySpec
    public let seed: UInt64
    public let counters = HostilityCounters()
    public let eventLoop: any EventLoop
    private let logger: Logger
    private let state: NIOLoopBoundBox<State>

    private struct State {
        var linksInstalled = 0
        var links: [Int: HostileLinkHandler] = [:]
        var recordings: [Int: (buffers: [ByteBuffer], bytes: Int)] = [:]
    }

    public init(spec: HostilitySpec, seed: UInt64, eventLoop: any EventLoop, logger: Logger) {
        self.spec = spec
        self.seed = seed
        self.eventLoop = eventLoop
        self.logger = logger
        self.state = .makeBoxSendingValue(State(), eventLoop: eventLoop)
    }

    /// Links installed so far.
    public var linksInstalled: Int {
        get async throws { try await self.eventLoop.submit { self.state.value.linksInstalled }.get() }
    }

    /// Puts the hostile handler on a new pump link (called on the event loop, before the
    /// link's first byte is read).
    public func install(on link: any Channel, openStream: @escaping StreamOpener) throws {
        self.eventLoop.preconditionInEventLoop()
        self.state.value.linksInstalled += 1
        let number = self.state.value.linksInstalled
        let rules = self.spec.rules
        let handler = HostileLinkHandler(
            number: number,
            up: HostileStreamStateMachine(rules: rules, link: number, direction: .up, seed: self.seed),
            down: HostileStreamStateMachine(rules: rules, link: number, direction: .down, seed: self.seed),
            relay: self
        )
        handler.openStream = openStream
        if rules.contains(where: { $0.behaviour == .replay && ($0.target.link ?? number) == number }) {
            self.state.value.recordings[number] = ([], 0)
        }
        try link.pipeline.syncOperations.addHandler(handler)
        self.state.value.links[number] = handler
    }

    // MARK: Called by the link handlers, on the event loop

    func performed(_ actions: [HostileStreamStateMachine.Performed]) {
        for action in actions {
            self.counters.add(action.behaviour)
            self.logger.notice(
                "hostile relay: \(action.behaviour)",
                metadata: [
                    "link": "\(action.link)", "dir": "\(action.direction)", "record": "\(action.record)",
                    "bytes": "\(action.bytes)",
                ]
            )
        }
    }

    func overflowed(link: Int, direction: HostileDirection) {
        self.logger.warning(
            "hostile relay: too many bytes held back; link cut",
            metadata: ["link": "\(link)", "dir": "\(direction)", "limit": "\(HostileLinkHandler.maximumQueuedBytes)"]
        )
    }

    func splice(_ buffer: ByteBuffer, from link: Int, to partner: Int, direction: HostileDirection) {
        guard let target = self.state.value.links[partner], target.number != link else {
            self.counters.add(.drop)
            self.logger.notice(
                "hostile relay: splice partner gone; record dropped",
                metadata: ["link": "\(link)", "partner": "\(partner)", "bytes": "\(buffer.readableBytes)"]
            )
            return
        }
        target.inject(buffer, direction: direction)
    }

    func recordUp(_ buffer: ByteBuffer, link: Int) {
        guard var recording = self.state.value.recordings[link] else { return }
        let room = Self.maximumRecordingBytes - recording.bytes
        guard room > 0 else { return }
        let slice = buffer.getSlice(at: buffer.readerIndex, length: min(room, buffer.readableBytes))!
        recording.buffers.append(slice)
        recording.bytes += slice.readableBytes
        self.state.value.recordings[link] = recording
    }

    func linkEnded(_ link: Int, openStream: StreamOpener?) {
        self.state.value.links[link] = nil
        guard let recording = self.state.value.recordings.removeValue(forKey: link), recording.bytes > 0,
            let openStream
        else { return }
        self.counters.add(.replay)
        self.logger.notice(
            "hostile relay: replay",
            metadata: ["link": "\(link)", "bytes": "\(recording.bytes)", "reads": "\(recording.buffers.count)"]
        )
        let buffers = recording.buffers
        openStream { stream in
            try stream.pipeline.syncOperations.addHandler(ReplayStreamHandler(recording: buffers))
        }
    }
}
