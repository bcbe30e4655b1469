/// The decisions of the audit log's syslog stream, without I/O or a clock: events in, actions
/// out. The service (`AuditSyslogService`) reads the log, writes to the collector and the cursor
/// file, and tells the machine what happened.
///
///     idle(retryAt) ──tick, retry due──▶ connecting ──connectSucceeded──▶ connected
///          ▲                                 │                                │
///          └──── connectFailed (backoff) ────┘◀── connectionLost (backoff) ───┘
///
/// Delivery. TCP syslog has no acknowledgement: a write that completed only reached this host's
/// kernel, and a connection that breaks can lose what was written just before. So the machine
/// keeps two positions:
/// - `settled`: every entry below it was written on a connection that was still open
///   ``Configuration/settleTime`` after the write completed (and, when the service can tell,
///   whose every byte the collector's TCP stack had acknowledged by then). Only `settled` is
///   written to the cursor file.
/// - a connection's `next`: the first entry not yet written on it. Writes run ahead of `settled`
///   by at most what a settle time lets through.
/// When a connection breaks, what was written on it and not settled is forgotten, and the next
/// connection starts again at `settled`; after a gateway restart, at the cursor file. So an
/// entry is sent twice only when a connection broke (or the gateway stopped) within a settle
/// time of its write, and the duplicate carries the same `index`.
public struct SyslogStreamStateMachine<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    public struct Configuration: Sendable, Equatable {
        /// The most entries read from the log and written in one go (memory stays bounded by this).
        public var batchSize: UInt64
        /// How long a connection must stay open after a write before its entries count as delivered.
        public var settleTime: Duration
        /// The first reconnect delay, doubled on each failure up to ``maximumBackoff``; back to this
        /// once a connection has stayed up for a settle time.
        public var initialBackoff: Duration
        public var maximumBackoff: Duration

        public init(
            batchSize: UInt64 = 100,
            settleTime: Duration = .seconds(2),
            initialBackoff: Duration = .milliseconds(500),
            maximumBackoff: Duration = .seconds(30)
        ) {
            precondition(batchSize > 0 && initialBackoff > .zero && maximumBackoff >= initialBackoff)
            self.batchSize = batchSize
            self.settleTime = settleTime
            self.initialBackoff = initialBackoff
            self.maximumBackoff = maximumBackoff
        }
    }

    public enum Action: Sendable, Equatable {
        case none
        /// Open a TLS connection to the collector; answer `connectSucceeded` or `connectFailed`.
        case connect
        /// Read these entries from the log and write them, in order, on the connection; answer
        /// `batchWritten` or `connectionLost`.
        case send(Range<UInt64>)
        /// Write the cursor file; answer `cursorPersisted` or `cursorNotPersisted`.
        case persistCursor(UInt64)
        /// Tell the operator (a log line).
        case report(Report)
    }

    public enum Report: Sendable, Equatable {
        /// Connected; `afterOutage` if the collector had gone away or could not be reached.
        case connected(pending: UInt64, afterOutage: Bool)
        /// An open connection broke; the stream resends from `resendFrom`.
        case lost(pending: UInt64, resendFrom: UInt64, retryIn: Duration)
        /// A connection attempt failed; `first` for the first failure of an outage.
        case unreachable(pending: UInt64, retryIn: Duration, first: Bool)
    }

    struct Mark: Sendable, Equatable {
        let upTo: UInt64
        let settlesAt: Instant
    }

    struct Connection: Sendable, Equatable {
        let since: Instant
        var next: UInt64
        var sending: Range<UInt64>?
        var unsettled: [Mark] = []
    }

    enum State: Sendable, Equatable {
        case idle(retryAt: Instant?)
        case connecting
        case connected(Connection)
    }

    public let configuration: Configuration
    private(set) var state: State = .idle(retryAt: nil)
    /// Entries below this reached the collector (by the settle rule).
    public private(set) var settled: UInt64
    /// What the cursor file holds.
    public private(set) var durable: UInt64
    /// The log's size, as last told.
    public private(set) var logSize: UInt64
    private var backoff: Duration
    private var outage = false
    private var persistRetryAt: Instant?

    /// A machine that starts streaming at `cursor` (the cursor file's value, 0 without one).
    public init(cursor: UInt64, logSize: UInt64, configuration: Configuration = .init()) {
        self.configuration = configuration
        self.settled = cursor
        self.durable = cursor
        self.logSize = max(logSize, cursor)
        self.backoff = configuration.initialBackoff
    }

    /// Entries not yet known to have reached the collector: the stream's lag.
    public var pending: UInt64 { self.logSize - self.settled }

    public var isConnected: Bool {
        if case .connected = self.state { return true }
        return false
    }

    // MARK: Events

    /// The log has `size` entries (it only grows).
    public mutating func logGrew(to size: UInt64) {
        self.logSize = max(self.logSize, size)
    }

    /// Time passed: settle what is due, then say what to do next (`.none`: wait for the next tick).
    /// `peerAcknowledged`: the connection's every written byte was acknowledged by the
    /// collector's TCP stack (true where the service cannot tell).
    public mutating func tick(now: Instant, peerAcknowledged: Bool = true) -> Action {
        if case .connected(var connection) = self.state {
            if peerAcknowledged {
                while let mark = connection.unsettled.first, mark.settlesAt <= now {
                    self.settled = max(self.settled, mark.upTo)
                    connection.unsettled.removeFirst()
                }
            }
            // A connection that stayed up for a settle time ends the backoff.
            if connection.since.duration(to: now) >= self.configuration.settleTime {
                self.backoff = self.configuration.initialBackoff
            }
            self.state = .connected(connection)
        }
        if self.settled > self.durable, self.persistRetryAt.map({ $0 <= now }) ?? true {
            return .persistCursor(self.settled)
        }
        switch self.state {
        case .idle(let retryAt):
            guard retryAt.map({ $0 <= now }) ?? true else { return .none }
            self.state = .connecting
            return .connect
        case .connecting:
            return .none
        case .connected(var connection):
            guard connection.sending == nil, connection.next < self.logSize else { return .none }
            let batch = connection.next..<min(self.logSize, connection.next + self.configuration.batchSize)
            connection.sending = batch
            self.state = .connected(connection)
            return .send(batch)
        }
    }

    public mutating func connectSucceeded(now: Instant) -> Action {
        guard case .connecting = self.state else { preconditionFailure("connectSucceeded in \(self.state)") }
        self.state = .connected(Connection(since: now, next: self.settled))
        let afterOutage = self.outage
        self.outage = false
        return .report(.connected(pending: self.pending, afterOutage: afterOutage))
    }

    public mutating func connectFailed(now: Instant) -> Action {
        guard case .connecting = self.state else { preconditionFailure("connectFailed in \(self.state)") }
        let delay = self.waitBeforeRetry(now: now)
        let first = !self.outage
        self.outage = true
        return .report(.unreachable(pending: self.pending, retryIn: delay, first: first))
    }

    /// The batch `.send` asked for was written (handed to the kernel) at `now`.
    public mutating func batchWritten(_ batch: Range<UInt64>, now: Instant) {
        guard case .connected(var connection) = self.state, connection.sending == batch else {
            preconditionFailure("batchWritten(\(batch)) in \(self.state)")
        }
        connection.sending = nil
        connection.next = batch.upperBound
        connection.unsettled.append(
            Mark(upTo: batch.upperBound, settlesAt: now.advanced(by: self.configuration.settleTime))
        )
        self.state = .connected(connection)
    }

    /// The connection closed or a write or read failed: rewind to `settled` and reconnect later.
    public mutating func connectionLost(now: Instant) -> Action {
        switch self.state {
        case .idle:
            return .none
        case .connecting:
            return self.connectFailed(now: now)
        case .connected:
            let delay = self.waitBeforeRetry(now: now)
            self.outage = true
            return .report(.lost(pending: self.pending, resendFrom: self.settled, retryIn: delay))
        }
    }

    public mutating func cursorPersisted(_ cursor: UInt64) {
        self.durable = max(self.durable, cursor)
        self.persistRetryAt = nil
    }

    /// Writing the cursor failed: try again after the longest backoff (the stream goes on; a
    /// cursor that lags only means more duplicates after a restart).
    public mutating func cursorNotPersisted(now: Instant) {
        self.persistRetryAt = now.advanced(by: self.configuration.maximumBackoff)
    }

    private mutating func waitBeforeRetry(now: Instant) -> Duration {
        let delay = self.backoff
        self.backoff = min(self.backoff * 2, self.configuration.maximumBackoff)
        self.state = .idle(retryAt: now.advanced(by: delay))
        return delay
    }
}
