import ChangeRequests
import Lockouts
import Testing

@testable import CommandPipeline

/// The per-pump delivery decisions, driven event by event with plain values: a session is a
/// `String`, a signed command an `Int`. Time is passed in as milliseconds; nothing sleeps.
///
/// `sent(_:)` while a command is already in flight (or with no session) is an impossible
/// transition: it ends in `preconditionFailure`, which these tests do not exercise.
@Suite("PumpDeliveryStateMachine")
struct PumpDeliveryStateMachineTests {
    typealias Machine = PumpDeliveryStateMachine<String, Int>

    static let lockoutA = LockoutID("lck_000000000000000a")!
    static let lockoutB = LockoutID("lck_000000000000000b")!
    static let change = ChangeRequestID.random()
    static let timeout: Int64 = 30_000
    static let preempt: Int64 = 2_000

    // MARK: Helpers

    /// The state as an `Equatable` value: the session and the sequence in flight.
    enum Phase: Equatable {
        case disconnected
        case idle(String)
        case awaiting(String, sequence: UInt64)
        /// `sequence` nil: an acknowledgement settled the command after the session's end began.
        case ending(String, sequence: UInt64?)
    }

    static func phase(_ machine: Machine) -> Phase {
        switch machine.state {
        case .disconnected: .disconnected
        case .idle(let session): .idle(session)
        case .awaitingAcknowledgement(let session, let inFlight): .awaiting(session, sequence: inFlight.sequence)
        case .ending(let session, let inFlight): .ending(session, sequence: inFlight?.sequence)
        }
    }

    static func changeCommand(_ sequence: UInt64, at milliseconds: Int64 = 0) -> Machine.InFlight {
        Machine.InFlight(
            sequence: sequence,
            purpose: .change(change),
            sentAtMilliseconds: milliseconds,
            command: Int(sequence) * 100
        )
    }

    static func lockoutCommand(
        _ sequence: UInt64,
        _ command: LockoutCommand = .start,
        _ lockouts: [LockoutID] = [lockoutA],
        at milliseconds: Int64 = 0
    ) -> Machine.InFlight {
        Machine.InFlight(
            sequence: sequence,
            purpose: .lockout(command, lockouts),
            sentAtMilliseconds: milliseconds,
            command: Int(sequence) * 100
        )
    }

    static func locked(_ lockouts: [LockoutID] = [lockoutA], suspend: Bool = false) -> LockoutOrder {
        .locked(suspendDelivery: suspend, lockouts: lockouts)
    }

    /// A machine with session `s1` connected (the pump not locked out) and an optional order.
    static func connected(order: LockoutOrder = .unlocked, reportsLockedOut: Bool = false) -> Machine {
        var machine = Machine()
        machine.orderChanged(order)
        _ = machine.connected("s1", reportsLockedOut: reportsLockedOut)
        return machine
    }

    /// The session and the in-flight sequence of a `replaced` answer; nil for `none`.
    static func replaced(_ action: Machine.ConnectAction) -> (session: String, sequence: UInt64?)? {
        switch action {
        case .none: nil
        case .replaced(let session, let inFlight): (session, inFlight?.sequence)
        }
    }

    /// The in-flight sequence of an `ended` answer (`.some(nil)`: ended with nothing in flight);
    /// nil for `stale`.
    static func ended(_ action: Machine.DisconnectAction) -> UInt64?? {
        switch action {
        case .stale: nil
        case .ended(let inFlight): .some(inFlight?.sequence)
        }
    }

    static func matched(_ match: Machine.AcknowledgementMatch) -> Machine.InFlight? {
        switch match {
        case .inFlight(let inFlight): inFlight
        case .notInFlight: nil
        }
    }

    static func endSession(_ action: Machine.DeadlineAction) -> (session: String, sequence: UInt64, preempted: Bool)? {
        switch action {
        case .none: nil
        case .endSession(let session, let inFlight, let preempted): (session, inFlight.sequence, preempted)
        }
    }

    static func checkDeadline(_ machine: inout Machine, at now: Int64) -> Machine.DeadlineAction {
        machine.checkDeadline(nowMilliseconds: now, timeoutMilliseconds: timeout, preemptMilliseconds: preempt)
    }

    // MARK: Start

    @Test func startsDisconnectedAndSendsNothing() {
        let machine = Machine()
        #expect(Self.phase(machine) == .disconnected)
        #expect(machine.session == nil)
        #expect(machine.inFlight == nil)
        #expect(machine.order == .unlocked)
        #expect(machine.next() == .wait)
    }

    @Test func aLockoutOrderWithoutASessionSendsNothing() {
        var machine = Machine()
        machine.orderChanged(Self.locked())
        #expect(machine.next() == .wait)
    }

    // MARK: connected

    @Test func connectingFromDisconnectedMakesTheSessionIdleAndReadyForChanges() {
        var machine = Machine()
        let action = machine.connected("s1", reportsLockedOut: false)
        #expect(Self.replaced(action) == nil)
        #expect(Self.phase(machine) == .idle("s1"))
        #expect(machine.session == "s1")
        #expect(machine.next() == .sendNextChange)
    }

    @Test func aNewSessionReplacesAnIdleOneWithNothingInFlight() throws {
        var machine = Self.connected()
        let replaced = try #require(Self.replaced(machine.connected("s2", reportsLockedOut: false)))
        #expect(replaced.session == "s1")
        #expect(replaced.sequence == nil)
        #expect(Self.phase(machine) == .idle("s2"))
    }

    @Test func aNewSessionReplacesOneWithACommandInFlightAndHandsItBackAsUncertain() throws {
        var machine = Self.connected()
        machine.sent(Self.changeCommand(7))
        let replaced = try #require(Self.replaced(machine.connected("s2", reportsLockedOut: false)))
        #expect(replaced.session == "s1")
        #expect(replaced.sequence == 7)
        #expect(Self.phase(machine) == .idle("s2"))
        #expect(machine.inFlight == nil)
        #expect(machine.next() == .sendNextChange)
    }

    @Test func aNewSessionReplacesAnEndingOneAndHandsBackItsCommand() throws {
        var machine = Self.connected()
        machine.sent(Self.changeCommand(7, at: 0))
        _ = Self.checkDeadline(&machine, at: Self.timeout)
        #expect(Self.phase(machine) == .ending("s1", sequence: 7))

        let replaced = try #require(Self.replaced(machine.connected("s2", reportsLockedOut: false)))
        #expect(replaced.session == "s1")
        #expect(replaced.sequence == 7)
        #expect(Self.phase(machine) == .idle("s2"))
    }

    @Test func theHelloSaysWhetherThePumpIsLockedOut() {
        var machine = Machine()
        _ = machine.connected("s1", reportsLockedOut: true)
        #expect(machine.reportedLockedOut)
        // No lockout covers it any more: the first thing sent is the lift.
        #expect(machine.next() == .sendLockoutLift)

        _ = machine.connected("s2", reportsLockedOut: false)
        #expect(!machine.reportedLockedOut)
        #expect(machine.next() == .sendNextChange)
    }

    // MARK: disconnected

    @Test func theCurrentSessionEndingWithNothingInFlight() {
        var machine = Self.connected()
        #expect(Self.ended(machine.disconnected("s1")) == .some(nil))
        #expect(Self.phase(machine) == .disconnected)
        #expect(machine.next() == .wait)
    }

    @Test func theCurrentSessionEndingWithACommandInFlightHandsItBack() {
        var machine = Self.connected()
        machine.sent(Self.changeCommand(9))
        #expect(Self.ended(machine.disconnected("s1")) == .some(9))
        #expect(Self.phase(machine) == .disconnected)
        #expect(machine.inFlight == nil)
        #expect(machine.next() == .wait)
    }

    @Test func anEndingSessionDisconnectingHandsBackItsCommand() {
        var machine = Self.connected()
        machine.sent(Self.changeCommand(9, at: 0))
        _ = Self.checkDeadline(&machine, at: Self.timeout)
        #expect(Self.ended(machine.disconnected("s1")) == .some(9))
        #expect(Self.phase(machine) == .disconnected)
    }

    @Test func aStaleSessionEndingChangesNothing() {
        var machine = Self.connected()
        _ = machine.connected("s2", reportsLockedOut: false)
        machine.sent(Self.changeCommand(4))

        #expect(Self.ended(machine.disconnected("s1")) == nil)
        #expect(Self.phase(machine) == .awaiting("s2", sequence: 4))
        #expect(machine.inFlight?.command == 400)
    }

    @Test func aSessionEndingWhileDisconnectedIsStale() {
        var machine = Self.connected()
        _ = machine.disconnected("s1")
        #expect(Self.ended(machine.disconnected("s1")) == nil)
        #expect(Self.phase(machine) == .disconnected)
    }

    // MARK: next

    @Test func anIdleUnlockedPumpGetsItsNextChange() {
        let machine = Self.connected()
        #expect(machine.next() == .sendNextChange)
    }

    @Test func aLockoutOrderGoesFirstCarryingItsSuspensionAndLockouts() {
        #expect(
            Self.connected(order: Self.locked([Self.lockoutA, Self.lockoutB], suspend: true)).next()
                == .sendLockoutStart(suspendDelivery: true, lockouts: [Self.lockoutA, Self.lockoutB])
        )
        #expect(
            Self.connected(order: Self.locked([Self.lockoutB], suspend: false)).next()
                == .sendLockoutStart(suspendDelivery: false, lockouts: [Self.lockoutB])
        )
    }

    @Test func aPumpThatAppliedItsLockoutGetsNothingElse() {
        var machine = Self.connected(order: Self.locked())
        machine.sent(Self.lockoutCommand(1))
        _ = machine.acknowledged(sequence: 1, applied: true, pumpLockedOut: true)
        #expect(Self.phase(machine) == .idle("s1"))
        #expect(machine.next() == .wait)
    }

    @Test func nothingIsSentWhileACommandIsInFlightEvenWithALockoutWaiting() {
        var machine = Self.connected()
        machine.sent(Self.changeCommand(1))
        #expect(machine.next() == .wait)
        machine.orderChanged(Self.locked())
        #expect(machine.next() == .wait)
    }

    // MARK: held

    @Test func heldSettingsBlockChanges() {
        var machine = Self.connected()
        machine.held = "the pump's settings digest differs from the expected one"
        #expect(machine.next() == .wait)
        machine.held = nil
        #expect(machine.next() == .sendNextChange)
    }

    @Test func heldSettingsDoNotBlockALockout() {
        var machine = Self.connected(order: Self.locked(suspend: true))
        machine.held = "diverged"
        #expect(machine.next() == .sendLockoutStart(suspendDelivery: true, lockouts: [Self.lockoutA]))
    }

    @Test func heldSettingsDoNotBlockALift() {
        var machine = Self.connected(reportsLockedOut: true)
        machine.held = "diverged"
        #expect(machine.next() == .sendLockoutLift)
    }

    // MARK: sent

    @Test func sendingFromIdleAwaitsTheAcknowledgement() throws {
        var machine = Self.connected()
        machine.sent(Self.changeCommand(3, at: 1_000))
        #expect(Self.phase(machine) == .awaiting("s1", sequence: 3))
        let inFlight = try #require(machine.inFlight)
        #expect(inFlight.purpose == .change(Self.change))
        #expect(inFlight.sentAtMilliseconds == 1_000)
        #expect(inFlight.command == 300)
        #expect(machine.session == "s1")
    }

    @Test func onlyLockoutCommandsCountAsLockoutAttempts() {
        var machine = Self.connected()
        machine.sent(Self.changeCommand(1))
        #expect(machine.lockoutAttempts == 0)
        _ = machine.acknowledged(sequence: 1, applied: true, pumpLockedOut: false)

        machine.orderChanged(Self.locked())
        machine.sent(Self.lockoutCommand(2))
        #expect(machine.lockoutAttempts == 1)
    }

    // MARK: acknowledged

    @Test func theAcknowledgementOfTheCommandInFlightSettlesIt() throws {
        var machine = Self.connected()
        machine.sent(Self.changeCommand(5))
        let settled = try #require(Self.matched(machine.acknowledged(sequence: 5, applied: true, pumpLockedOut: false)))
        #expect(settled.sequence == 5)
        #expect(settled.command == 500)
        #expect(settled.purpose == .change(Self.change))
        #expect(Self.phase(machine) == .idle("s1"))
        #expect(machine.next() == .sendNextChange)
    }

    @Test func aRefusedChangeIsSettledToo() throws {
        var machine = Self.connected()
        machine.sent(Self.changeCommand(5))
        let settled = try #require(
            Self.matched(machine.acknowledged(sequence: 5, applied: false, pumpLockedOut: false))
        )
        #expect(settled.sequence == 5)
        #expect(Self.phase(machine) == .idle("s1"))
    }

    @Test func anAcknowledgementOfAnotherSequenceLeavesTheCommandInFlight() {
        var machine = Self.connected()
        machine.sent(Self.changeCommand(5))
        #expect(Self.matched(machine.acknowledged(sequence: 4, applied: true, pumpLockedOut: false)) == nil)
        #expect(Self.matched(machine.acknowledged(sequence: 6, applied: true, pumpLockedOut: false)) == nil)
        #expect(Self.phase(machine) == .awaiting("s1", sequence: 5))
        #expect(machine.next() == .wait)
    }

    @Test func anAcknowledgementWithNothingInFlightMatchesNothing() {
        var idle = Self.connected()
        #expect(Self.matched(idle.acknowledged(sequence: 1, applied: true, pumpLockedOut: false)) == nil)
        #expect(Self.phase(idle) == .idle("s1"))

        var disconnected = Machine()
        #expect(Self.matched(disconnected.acknowledged(sequence: 1, applied: true, pumpLockedOut: false)) == nil)
        #expect(Self.phase(disconnected) == .disconnected)
    }

    @Test func anAppliedLockoutStartMarksItsLockoutsAppliedForTheSession() {
        var machine = Self.connected(order: Self.locked([Self.lockoutA, Self.lockoutB]))
        machine.sent(Self.lockoutCommand(1, .start, [Self.lockoutA, Self.lockoutB]))
        _ = machine.acknowledged(sequence: 1, applied: true, pumpLockedOut: true)
        #expect(machine.appliedThisSession == [Self.lockoutA, Self.lockoutB])
        #expect(machine.lockoutAttempts == 0)
        #expect(machine.next() == .wait)
    }

    @Test func aRefusedLockoutStartIsSentAgain() {
        var machine = Self.connected(order: Self.locked(suspend: true))
        machine.sent(Self.lockoutCommand(1))
        _ = machine.acknowledged(sequence: 1, applied: false, pumpLockedOut: false)
        #expect(machine.appliedThisSession.isEmpty)
        #expect(machine.lockoutAttempts == 1)
        #expect(machine.next() == .sendLockoutStart(suspendDelivery: true, lockouts: [Self.lockoutA]))
    }

    @Test func anAppliedLockoutStartResetsTheAttempts() {
        var machine = Self.connected(order: Self.locked())
        machine.sent(Self.lockoutCommand(1))
        _ = machine.acknowledged(sequence: 1, applied: false, pumpLockedOut: false)
        machine.sent(Self.lockoutCommand(2))
        #expect(machine.lockoutAttempts == 2)
        _ = machine.acknowledged(sequence: 2, applied: true, pumpLockedOut: true)
        #expect(machine.lockoutAttempts == 0)
    }

    @Test func anAppliedLockoutLiftResetsTheAttemptsAndChangesFlowAgain() {
        var machine = Self.connected(reportsLockedOut: true)
        machine.sent(Self.lockoutCommand(1, .lift, []))
        _ = machine.acknowledged(sequence: 1, applied: false, pumpLockedOut: true)
        #expect(machine.next() == .sendLockoutLift)
        machine.sent(Self.lockoutCommand(2, .lift, []))
        #expect(machine.lockoutAttempts == 2)
        _ = machine.acknowledged(sequence: 2, applied: true, pumpLockedOut: false)
        #expect(machine.lockoutAttempts == 0)
        #expect(!machine.reportedLockedOut)
        #expect(machine.next() == .sendNextChange)
    }

    @Test func anAppliedLiftDoesNotMarkLockoutsApplied() {
        var machine = Self.connected(reportsLockedOut: true)
        machine.sent(Self.lockoutCommand(1, .lift, [Self.lockoutA]))
        _ = machine.acknowledged(sequence: 1, applied: true, pumpLockedOut: false)
        #expect(machine.appliedThisSession.isEmpty)
    }

    @Test func thePumpsReportedModeFollowsEachAcknowledgement() {
        var machine = Self.connected()
        machine.sent(Self.changeCommand(1))
        // The pump answers a change saying it is locked out, and no lockout covers it: lift.
        _ = machine.acknowledged(sequence: 1, applied: false, pumpLockedOut: true)
        #expect(machine.reportedLockedOut)
        #expect(machine.next() == .sendLockoutLift)

        machine.sent(Self.lockoutCommand(2, .lift, []))
        _ = machine.acknowledged(sequence: 2, applied: true, pumpLockedOut: false)
        #expect(!machine.reportedLockedOut)
        #expect(machine.next() == .sendNextChange)
    }

    @Test func anAcknowledgementWhileEndingSettlesTheCommandOnce() throws {
        var machine = Self.connected()
        machine.sent(Self.changeCommand(5, at: 0))
        _ = Self.checkDeadline(&machine, at: Self.timeout)
        let settled = try #require(Self.matched(machine.acknowledged(sequence: 5, applied: true, pumpLockedOut: false)))
        #expect(settled.sequence == 5)
        // Settled: no longer in flight, but the session is still being closed and nothing is sent.
        #expect(Self.phase(machine) == .ending("s1", sequence: nil))
        #expect(machine.inFlight == nil)
        #expect(machine.next() == .wait)
        // A replay of the same acknowledgement is not settled a second time.
        #expect(Self.matched(machine.acknowledged(sequence: 5, applied: true, pumpLockedOut: false)) == nil)
        // And the session's end reports no command left unacknowledged.
        #expect(Self.ended(machine.disconnected("s1")) == .some(nil))
    }

    // MARK: orderChanged

    @Test func aLockoutAddedAfterOneWasAppliedIsSentAgainWithBoth() {
        var machine = Self.connected(order: Self.locked([Self.lockoutA]))
        machine.sent(Self.lockoutCommand(1, .start, [Self.lockoutA]))
        _ = machine.acknowledged(sequence: 1, applied: true, pumpLockedOut: true)
        #expect(machine.next() == .wait)

        machine.orderChanged(Self.locked([Self.lockoutA, Self.lockoutB], suspend: true))
        #expect(machine.order == Self.locked([Self.lockoutA, Self.lockoutB], suspend: true))
        #expect(
            machine.next() == .sendLockoutStart(suspendDelivery: true, lockouts: [Self.lockoutA, Self.lockoutB])
        )
    }

    @Test func aLockoutArrivingMidSessionGoesBeforeTheNextChange() {
        var machine = Self.connected()
        machine.sent(Self.changeCommand(1))
        machine.orderChanged(Self.locked())
        _ = machine.acknowledged(sequence: 1, applied: true, pumpLockedOut: false)
        #expect(machine.next() == .sendLockoutStart(suspendDelivery: false, lockouts: [Self.lockoutA]))
    }

    @Test func liftedOrderSendsALiftOnlyWhenThePumpReportsALockout() {
        var machine = Self.connected(order: Self.locked())
        machine.sent(Self.lockoutCommand(1))
        _ = machine.acknowledged(sequence: 1, applied: true, pumpLockedOut: true)

        machine.orderChanged(.unlocked)
        #expect(machine.next() == .sendLockoutLift)

        // A pump that does not report a lockout gets no lift: its changes flow.
        var unlockedPump = Self.connected(order: Self.locked())
        unlockedPump.orderChanged(.unlocked)
        #expect(unlockedPump.next() == .sendNextChange)
    }

    @Test func anOrderChangeResetsTheAttempts() {
        var machine = Self.connected(order: Self.locked())
        for sequence in 1...UInt64(Machine.maximumLockoutAttempts) {
            machine.sent(Self.lockoutCommand(sequence))
            _ = machine.acknowledged(sequence: sequence, applied: false, pumpLockedOut: false)
        }
        #expect(machine.next() == .wait)

        machine.orderChanged(Self.locked())
        #expect(machine.lockoutAttempts == 0)
        #expect(machine.next() == .sendLockoutStart(suspendDelivery: false, lockouts: [Self.lockoutA]))
    }

    // MARK: The attempt cap

    @Test func afterTheMaximumRefusedLockoutStartsTheMachineWaits() {
        // Three a session, as the `lockout_refused_by_pump` security event tells operators.
        #expect(Machine.maximumLockoutAttempts == 3)
        var machine = Self.connected(order: Self.locked())
        for sequence in 1...UInt64(Machine.maximumLockoutAttempts) {
            #expect(machine.next() == .sendLockoutStart(suspendDelivery: false, lockouts: [Self.lockoutA]))
            machine.sent(Self.lockoutCommand(sequence))
            _ = machine.acknowledged(sequence: sequence, applied: false, pumpLockedOut: false)
        }
        #expect(machine.lockoutAttempts == Machine.maximumLockoutAttempts)
        // Locked out, so no change goes instead either.
        #expect(machine.next() == .wait)
    }

    @Test func afterTheMaximumRefusedLiftsTheMachineWaits() {
        var machine = Self.connected(reportsLockedOut: true)
        for sequence in 1...UInt64(Machine.maximumLockoutAttempts) {
            #expect(machine.next() == .sendLockoutLift)
            machine.sent(Self.lockoutCommand(sequence, .lift, []))
            _ = machine.acknowledged(sequence: sequence, applied: false, pumpLockedOut: true)
        }
        #expect(machine.next() == .wait)
    }

    @Test func aNewSessionResetsTheAttemptsAndWhatWasApplied() {
        var machine = Self.connected(order: Self.locked())
        for sequence in 1...UInt64(Machine.maximumLockoutAttempts) {
            machine.sent(Self.lockoutCommand(sequence))
            _ = machine.acknowledged(sequence: sequence, applied: false, pumpLockedOut: false)
        }
        #expect(machine.next() == .wait)

        _ = machine.connected("s2", reportsLockedOut: false)
        #expect(machine.lockoutAttempts == 0)
        #expect(machine.next() == .sendLockoutStart(suspendDelivery: false, lockouts: [Self.lockoutA]))
    }

    @Test func theLockoutIsSentAgainOnEverySession() {
        var machine = Self.connected(order: Self.locked())
        machine.sent(Self.lockoutCommand(1))
        _ = machine.acknowledged(sequence: 1, applied: true, pumpLockedOut: true)
        #expect(machine.next() == .wait)

        _ = machine.disconnected("s1")
        _ = machine.connected("s2", reportsLockedOut: true)
        #expect(machine.appliedThisSession.isEmpty)
        #expect(machine.next() == .sendLockoutStart(suspendDelivery: false, lockouts: [Self.lockoutA]))
    }

    // MARK: checkDeadline

    @Test func noDeadlineWithoutACommandInFlight() {
        var disconnected = Machine()
        #expect(Self.endSession(Self.checkDeadline(&disconnected, at: 1_000_000)) == nil)
        var idle = Self.connected(order: Self.locked())
        #expect(Self.endSession(Self.checkDeadline(&idle, at: 1_000_000)) == nil)
        #expect(Self.phase(idle) == .idle("s1"))
    }

    @Test func aChangeIsGivenUntilTheTimeout() {
        var machine = Self.connected()
        machine.sent(Self.changeCommand(2, at: 10_000))
        #expect(Self.endSession(Self.checkDeadline(&machine, at: 10_000 + Self.timeout - 1)) == nil)
        #expect(Self.phase(machine) == .awaiting("s1", sequence: 2))
    }

    @Test func atTheTimeoutTheSessionIsEndedAndNothingMoreIsSent() throws {
        var machine = Self.connected()
        machine.sent(Self.changeCommand(2, at: 10_000))
        let end = try #require(Self.endSession(Self.checkDeadline(&machine, at: 10_000 + Self.timeout)))
        #expect(end.session == "s1")
        #expect(end.sequence == 2)
        #expect(!end.preempted)
        #expect(Self.phase(machine) == .ending("s1", sequence: 2))
        #expect(machine.inFlight?.sequence == 2)
        #expect(machine.next() == .wait)
    }

    @Test func anEndingSessionIsNotEndedTwice() {
        var machine = Self.connected()
        machine.sent(Self.changeCommand(2, at: 0))
        _ = Self.checkDeadline(&machine, at: Self.timeout)
        #expect(Self.endSession(Self.checkDeadline(&machine, at: Self.timeout * 2)) == nil)
        #expect(Self.phase(machine) == .ending("s1", sequence: 2))
    }

    @Test func aWaitingLockoutPreemptsAChangeAfterThePreemptTime() throws {
        var machine = Self.connected()
        machine.sent(Self.changeCommand(2, at: 10_000))
        machine.orderChanged(Self.locked())

        #expect(Self.endSession(Self.checkDeadline(&machine, at: 10_000 + Self.preempt - 1)) == nil)
        #expect(Self.phase(machine) == .awaiting("s1", sequence: 2))

        let end = try #require(Self.endSession(Self.checkDeadline(&machine, at: 10_000 + Self.preempt)))
        #expect(end.session == "s1")
        #expect(end.sequence == 2)
        #expect(end.preempted)
        #expect(Self.phase(machine) == .ending("s1", sequence: 2))
        #expect(machine.next() == .wait)
    }

    @Test func withoutAWaitingLockoutAChangeIsNotPreempted() {
        var machine = Self.connected()
        machine.sent(Self.changeCommand(2, at: 0))
        #expect(Self.endSession(Self.checkDeadline(&machine, at: Self.preempt)) == nil)
        #expect(Self.phase(machine) == .awaiting("s1", sequence: 2))
    }

    @Test func aLockoutAlreadyAppliedThisSessionDoesNotPreemptAChange() {
        // Lockout A applied, then lifted and the pump unlocked; a change goes out; A's order comes
        // back (as a replayed order would): A is applied on this session, nothing is waiting.
        var machine = Self.connected(order: Self.locked())
        machine.sent(Self.lockoutCommand(1))
        _ = machine.acknowledged(sequence: 1, applied: true, pumpLockedOut: false)
        machine.orderChanged(.unlocked)
        machine.sent(Self.changeCommand(2, at: 0))
        machine.orderChanged(Self.locked())
        #expect(Self.endSession(Self.checkDeadline(&machine, at: Self.preempt)) == nil)
        #expect(Self.phase(machine) == .awaiting("s1", sequence: 2))
    }

    @Test func aLockoutCommandInFlightIsNotPreempted() throws {
        var machine = Self.connected(order: Self.locked())
        machine.sent(Self.lockoutCommand(1, at: 0))
        machine.orderChanged(Self.locked([Self.lockoutA, Self.lockoutB]))
        #expect(Self.endSession(Self.checkDeadline(&machine, at: Self.preempt)) == nil)
        #expect(Self.phase(machine) == .awaiting("s1", sequence: 1))

        let end = try #require(Self.endSession(Self.checkDeadline(&machine, at: Self.timeout)))
        #expect(end.sequence == 1)
        #expect(!end.preempted)
    }

    @Test func aLiftInFlightIsNotPreempted() {
        var machine = Self.connected(reportsLockedOut: true)
        machine.sent(Self.lockoutCommand(1, .lift, [], at: 0))
        machine.orderChanged(Self.locked())
        #expect(Self.endSession(Self.checkDeadline(&machine, at: Self.preempt)) == nil)
    }

    @Test func aPreemptingLockoutFoundOnlyAfterTheTimeoutIsATimeout() throws {
        var machine = Self.connected()
        machine.sent(Self.changeCommand(2, at: 0))
        machine.orderChanged(Self.locked())
        let end = try #require(Self.endSession(Self.checkDeadline(&machine, at: Self.timeout)))
        #expect(!end.preempted)
    }

    @Test func afterAPreemptionTheNextSessionStartsWithTheLockout() throws {
        var machine = Self.connected()
        machine.sent(Self.changeCommand(2, at: 0))
        machine.orderChanged(Self.locked(suspend: true))
        _ = try #require(Self.endSession(Self.checkDeadline(&machine, at: Self.preempt)))

        #expect(Self.ended(machine.disconnected("s1")) == .some(2))
        _ = machine.connected("s2", reportsLockedOut: false)
        #expect(machine.next() == .sendLockoutStart(suspendDelivery: true, lockouts: [Self.lockoutA]))
    }
}
