import ChangeRequests
import Lockouts

/// What goes to one pump next, as a pure state machine: events return actions, the pipeline's
/// worker carries them out (store, audit, sign, write). No I/O, no clock of its own.
///
/// ```
///                 connected                 sent(command)
///  disconnected ────────────> idle ───────────────────────> awaitingAcknowledgement
///       ^  ^                   ^  <─── acknowledged(same sequence) ──┘   │
///       │  └── disconnected ───┴──────────────── disconnected ───────────┤
///       │                                                                │ deadline passed
///       └──────────────────── disconnected ──── ending <─────────────────┘ (endSession)
/// ```
///
/// Beside the session state it holds the gateway's standing lockout order for the pump and what
/// the pump last said of itself, and `next()` reads them in this priority:
/// 1. a **lockout order** not yet applied on this session: `sendLockoutStart`, before anything
///    else on every session (freshly signed each time: the pump may have been offline for weeks);
/// 2. the pump reports a lockout that no lockout covers any more (two people lifted it):
///    `sendLockoutLift` — only if the pump applied a lockout of this gateway (`mayLift`);
/// 3. while locked out, nothing else; while the pump's settings diverge (`held`), nothing else;
/// 4. otherwise the change queue: `sendNextChange`.
///
/// One command is in flight at a time, so an uncertain command is always the newest the pump
/// can have seen. A lockout that arrives while a change waits for its acknowledgement does not
/// jump the wire; instead the acknowledgement's deadline shrinks to `preemptMilliseconds`, after
/// which the session is ended (the change becomes uncertain) and the next session starts with
/// the lockout.
struct PumpDeliveryStateMachine<Session: Equatable, Command> {
    enum Purpose: Equatable {
        case change(ChangeRequestID)
        case lockout(LockoutCommand, [LockoutID])
    }

    struct InFlight {
        let sequence: UInt64
        let purpose: Purpose
        let sentAtMilliseconds: Int64
        /// The command as signed and sent (its acknowledgement must answer exactly these bytes).
        let command: Command
    }

    enum State {
        case disconnected
        case idle(Session)
        case awaitingAcknowledgement(Session, InFlight)
        /// The session is being closed for want of an acknowledgement; nothing more is sent. The
        /// command is nil once a late acknowledgement settled it (a replay of it then matches nothing).
        case ending(Session, InFlight?)
    }

    enum NextAction: Equatable {
        case wait
        case sendLockoutStart(suspendDelivery: Bool, lockouts: [LockoutID])
        case sendLockoutLift
        case sendNextChange
    }

    enum ConnectAction {
        case none
        /// A newer session replaced this one: close it; a command in flight on it is uncertain.
        case replaced(Session, InFlight?)
    }

    enum DisconnectAction {
        /// An older session ended after it was replaced: nothing changes.
        case stale
        /// The current session ended; a command in flight on it is uncertain.
        case ended(InFlight?)
    }

    enum AcknowledgementMatch {
        /// It answers the command in flight: settle it.
        case inFlight(InFlight)
        /// It answers no command in flight (late, duplicate or replayed).
        case notInFlight
    }

    enum DeadlineAction {
        case none
        case endSession(Session, InFlight, preempted: Bool)
    }

    /// Attempts at a lockout command per session before the worker stops trying (a pump that
    /// keeps refusing it is reported, and its changes stay refused by the gateway's own policy).
    static var maximumLockoutAttempts: Int { 3 }

    private(set) var state: State = .disconnected
    private(set) var order: LockoutOrder = .unlocked
    /// The pump says it is locked out (its hello's mode, then each acknowledgement's).
    private(set) var reportedLockedOut = false
    /// The lockouts whose `lockoutStart` the pump applied on this session.
    private(set) var appliedThisSession: Set<LockoutID> = []
    private(set) var lockoutAttempts = 0
    /// Whether a lift may be sent when no lockout covers the pump: only for a pump that applied
    /// a lockout of this gateway. A pump that reports a lockout the gateway never started is not
    /// unlocked by it (the gateway's lockout state may be what was lost); it waits, and changes
    /// for it are refused by the policy meanwhile.
    private(set) var mayLift = true
    /// Why changes are held (the pump's settings differ from the expected ones); nil: not held.
    var held: String?

    var session: Session? {
        switch state {
        case .disconnected: nil
        case .idle(let session), .awaitingAcknowledgement(let session, _), .ending(let session, _): session
        }
    }

    var inFlight: InFlight? {
        switch state {
        case .awaitingAcknowledgement(_, let inFlight): inFlight
        case .ending(_, let inFlight): inFlight
        case .disconnected, .idle: nil
        }
    }

    // MARK: Events

    mutating func connected(_ session: Session, reportsLockedOut: Bool) -> ConnectAction {
        let previous = self.session.map { ConnectAction.replaced($0, inFlight) } ?? .none
        state = .idle(session)
        reportedLockedOut = reportsLockedOut
        appliedThisSession = []
        lockoutAttempts = 0
        return previous
    }

    mutating func disconnected(_ session: Session) -> DisconnectAction {
        guard self.session == session else { return .stale }
        let inFlight = self.inFlight
        state = .disconnected
        return .ended(inFlight)
    }

    /// The gateway's lockouts changed for this pump (and whether it may be lifted): the attempts
    /// start over (call `next()` for what to send now).
    mutating func orderChanged(_ order: LockoutOrder, mayLift: Bool = true) {
        self.order = order
        self.mayLift = mayLift
        lockoutAttempts = 0
    }

    func next() -> NextAction {
        guard case .idle = state else { return .wait }
        switch order {
        case .locked(let suspend, let lockouts):
            if !Set(lockouts).isSubset(of: appliedThisSession) {
                return lockoutAttempts < Self.maximumLockoutAttempts
                    ? .sendLockoutStart(suspendDelivery: suspend, lockouts: lockouts) : .wait
            }
            return .wait
        case .unlocked:
            if reportedLockedOut {
                return mayLift && lockoutAttempts < Self.maximumLockoutAttempts ? .sendLockoutLift : .wait
            }
            return held == nil ? .sendNextChange : .wait
        }
    }

    mutating func sent(_ inFlight: InFlight) {
        guard case .idle(let session) = state else {
            preconditionFailure("a command was sent while the pump's delivery is \(state)")
        }
        if case .lockout = inFlight.purpose { lockoutAttempts += 1 }
        state = .awaitingAcknowledgement(session, inFlight)
    }

    /// An acknowledgement with `sequence` arrived and verified; `applied` and `pumpLockedOut` are
    /// what it says.
    mutating func acknowledged(sequence: UInt64, applied: Bool, pumpLockedOut: Bool) -> AcknowledgementMatch {
        reportedLockedOut = pumpLockedOut
        guard let inFlight, inFlight.sequence == sequence else { return .notInFlight }
        switch state {
        case .awaitingAcknowledgement(let session, _): state = .idle(session)
        case .ending(let session, _): state = .ending(session, nil)
        case .disconnected, .idle: break
        }
        if applied, case .lockout(.start, let lockouts) = inFlight.purpose {
            appliedThisSession.formUnion(lockouts)
            lockoutAttempts = 0
        }
        if applied, case .lockout(.lift, _) = inFlight.purpose {
            lockoutAttempts = 0
        }
        return .inFlight(inFlight)
    }

    /// Ends the session if the command in flight is overdue: after `timeoutMilliseconds`, or after
    /// `preemptMilliseconds` when a lockout is waiting behind a change.
    mutating func checkDeadline(
        nowMilliseconds: Int64,
        timeoutMilliseconds: Int64,
        preemptMilliseconds: Int64
    ) -> DeadlineAction {
        guard case .awaitingAcknowledgement(let session, let inFlight) = state else { return .none }
        let waited = nowMilliseconds - inFlight.sentAtMilliseconds
        var preempting = false
        if case .change = inFlight.purpose, case .locked(_, let lockouts) = order,
            !Set(lockouts).isSubset(of: appliedThisSession)
        {
            preempting = true
        }
        if waited >= timeoutMilliseconds || (preempting && waited >= preemptMilliseconds) {
            state = .ending(session, inFlight)
            return .endSession(session, inFlight, preempted: preempting && waited < timeoutMilliseconds)
        }
        return .none
    }
}
