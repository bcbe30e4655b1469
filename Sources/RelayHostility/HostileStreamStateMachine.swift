public import NIOCore

/// What a hostile relay does to one direction of one pump link. Pure: bytes and the time go
/// in, outputs and a record of what was done come out; ``HostileLinkHandler`` executes them.
///
/// The bytes are cut into TLS records (``TLSRecordSplitter``) and every record is offered to
/// each rule that targets this link and direction. A rule acts on a matching record after
/// skipping its first `after` ones, at most `count` times, with its rate's chance (drawn from
/// this link's and direction's own ``HostilePRNG``). When several rules act on one record:
/// `inject` and `flip` first, then the first of `truncate`, `drop`, `splice`, `reorder`,
/// `duplicate`; `delay` holds whatever is sent.
public struct HostileStreamStateMachine: Sendable {
    public enum Output: Sendable {
        /// Send these bytes on, not before `notBefore` (nil: now) and after everything
        /// earlier: the handler keeps the order.
        case send(ByteBuffer, notBefore: NIODeadline?)
        /// Send these bytes into link `link`'s path instead (same direction).
        case splice(ByteBuffer, link: Int)
        /// End the link, after what was output before.
        case cut
    }

    /// One thing done, for the log and the counters (sizes only, never contents).
    public struct Performed: Sendable, Equatable {
        public var behaviour: HostileBehaviour
        public var link: Int
        public var direction: HostileDirection
        /// The record's number in its direction (1…); for `truncate-at`, the record being cut.
        public var record: Int
        public var bytes: Int
    }

    public let link: Int
    public let direction: HostileDirection
    private let rules: [HostilityRule]
    private var random: HostilePRNG
    private var splitter = TLSRecordSplitter()
    private var matched: [Int]
    private var acted: [Int]
    private var records = 0
    private var bytesSeen = 0
    private var held: ByteBuffer?
    private var lastRelease: NIODeadline = .uptimeNanoseconds(0)
    private(set) var isCut = false

    /// `rules` are every rule of the spec; those for other links or directions are ignored.
    public init(rules: [HostilityRule], link: Int, direction: HostileDirection, seed: UInt64) {
        self.link = link
        self.direction = direction
        self.rules = rules.filter {
            $0.behaviour != .replay && ($0.target.link == nil || $0.target.link == link)
                && $0.target.directions.contains(direction)
        }
        self.random = HostilePRNG(seed: seed, link: link, direction: direction)
        self.matched = Array(repeating: 0, count: self.rules.count)
        self.acted = Array(repeating: 0, count: self.rules.count)
    }

    /// Whether any rule can act on this direction (otherwise bytes pass untouched).
    public var isActive: Bool { !self.rules.isEmpty }

    /// Bytes this machine holds: an incomplete record and a record kept back for `reorder`.
    public var heldBytes: Int { self.splitter.heldBytes + (self.held?.readableBytes ?? 0) }

    public mutating func received(
        _ buffer: ByteBuffer,
        now: NIODeadline
    ) -> (outputs: [Output], performed: [Performed]) {
        guard !self.isCut else { return ([], []) }
        guard self.isActive else { return ([.send(buffer, notBefore: nil)], []) }
        var outputs: [Output] = []
        var performed: [Performed] = []
        var input = buffer
        var cutAfterInput = false
        if let index = self.rules.indices.first(where: {
            self.rules[$0].behaviour == .truncateAt && self.acted[$0] == 0
        }) {
            let offset = self.rules[index].offset
            if self.bytesSeen + input.readableBytes >= offset, self.bytesSeen <= offset {
                input = input.getSlice(at: input.readerIndex, length: offset - self.bytesSeen)!
                self.acted[index] += 1
                cutAfterInput = true
            }
        }
        self.bytesSeen += input.readableBytes
        for record in self.splitter.append(input) {
            self.records += 1
            self.handle(record, now: now, into: &outputs, performed: &performed)
            if self.isCut { return (outputs, performed) }
        }
        if cutAfterInput {
            if let partial = self.splitter.takeHeld() {
                outputs.append(.send(partial, notBefore: self.release(now, now: now)))
            }
            performed.append(
                Performed(
                    behaviour: .truncateAt,
                    link: self.link,
                    direction: self.direction,
                    record: self.records + 1,
                    bytes: self.bytesSeen
                )
            )
            outputs.append(.cut)
            self.isCut = true
        }
        return (outputs, performed)
    }

    /// The link ended. Returns the bytes of an incomplete last record, which go on as they
    /// are (a relay that passes a stream on passes its end too); a record held for `reorder`
    /// is lost with the link.
    public mutating func ended() -> ByteBuffer? {
        self.held = nil
        defer { self.isCut = true }
        return self.isCut ? nil : self.splitter.takeHeld()
    }

    private mutating func handle(
        _ record: TLSRecordSplitter.Record,
        now: NIODeadline,
        into outputs: inout [Output],
        performed: inout [Performed]
    ) {
        var fired: [HostileBehaviour: HostilityRule] = [:]
        for (index, rule) in self.rules.enumerated() where rule.behaviour != .truncateAt {
            guard rule.target.records.matches(contentType: record.contentType),
                record.bytes.readableBytes >= rule.target.minimumBytes
            else { continue }
            self.matched[index] += 1
            guard self.matched[index] > rule.target.after, self.acted[index] < (rule.target.count ?? .max) else {
                continue
            }
            guard self.random.chance(rule.rate), fired[rule.behaviour] == nil else { continue }
            fired[rule.behaviour] = rule
            self.acted[index] += 1
        }
        var bytes = record.bytes
        func note(_ behaviour: HostileBehaviour, _ size: Int) {
            performed.append(
                Performed(
                    behaviour: behaviour,
                    link: self.link,
                    direction: self.direction,
                    record: self.records,
                    bytes: size
                )
            )
        }
        let notBefore: NIODeadline?
        if let delay = fired[.delay] {
            notBefore = self.release(now + TimeAmount(delay.delay), now: now)
            note(.delay, bytes.readableBytes)
        } else {
            notBefore = self.release(now, now: now)
        }
        if fired[.inject] != nil {
            outputs.append(.send(self.forgery(like: record), notBefore: notBefore))
            note(.inject, bytes.readableBytes)
        }
        if fired[.flip] != nil {
            self.flipBit(in: &bytes)
            note(.flip, bytes.readableBytes)
        }
        if fired[.truncate] != nil {
            let keep = Int(self.random.next() % UInt64(max(1, bytes.readableBytes)))
            outputs.append(.send(bytes.getSlice(at: bytes.readerIndex, length: keep)!, notBefore: notBefore))
            outputs.append(.cut)
            self.isCut = true
            note(.truncate, keep)
            return
        }
        if fired[.drop] != nil {
            note(.drop, bytes.readableBytes)
            return
        }
        if let splice = fired[.splice] {
            outputs.append(.splice(bytes, link: splice.partner))
            note(.splice, bytes.readableBytes)
            return
        }
        if fired[.reorder] != nil, self.held == nil {
            self.held = bytes
            note(.reorder, bytes.readableBytes)
            return
        }
        outputs.append(.send(bytes, notBefore: notBefore))
        if fired[.duplicate] != nil {
            outputs.append(.send(bytes, notBefore: notBefore))
            note(.duplicate, bytes.readableBytes)
        }
        if let held = self.held {
            self.held = nil
            outputs.append(.send(held, notBefore: notBefore))
        }
    }

    /// Outputs leave in order: nothing is released before what came earlier.
    private mutating func release(_ deadline: NIODeadline, now: NIODeadline) -> NIODeadline? {
        self.lastRelease = max(self.lastRelease, deadline)
        return self.lastRelease > now ? self.lastRelease : nil
    }

    private mutating func flipBit(in bytes: inout ByteBuffer) {
        let header = bytes.readableBytes > TLSRecordSplitter.headerLength ? TLSRecordSplitter.headerLength : 0
        let span = bytes.readableBytes - header
        guard span > 0 else { return }
        let position = bytes.readerIndex + header + Int(self.random.next() % UInt64(span))
        let bit = UInt8(1) << UInt8(self.random.next() % 8)
        bytes.setInteger(bytes.getInteger(at: position, as: UInt8.self)! ^ bit, at: position)
    }

    /// A record that looks like `record` (type, version, length) with a random body.
    private mutating func forgery(like record: TLSRecordSplitter.Record) -> ByteBuffer {
        let length = max(0, record.bytes.readableBytes - TLSRecordSplitter.headerLength)
        var forged = ByteBuffer()
        forged.reserveCapacity(TLSRecordSplitter.headerLength + length)
        forged.writeInteger(record.contentType ?? TLSRecordSplitter.applicationData)
        forged.writeInteger(UInt16(0x0303))
        forged.writeInteger(UInt16(truncatingIfNeeded: length))
        for _ in 0..<length { forged.writeInteger(UInt8(truncatingIfNeeded: self.random.next())) }
        return forged
    }
}
