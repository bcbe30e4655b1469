public import AccessTokens
public import AuditLog
public import ChangeRequests
public import CommandAuthority
import Foundation
public import Lockouts
public import Logging
import NodeLeases
import Synchronization
public import TherapyModel
public import TunnelProtocol

/// The gateway's setting-change pipeline: the one path from an API request to a pump's signed
/// acknowledgement, in this order and nothing forwarded out of it (DESIGN.md, "The rule"):
///
/// 1. **authenticate** the bearer token (`Authenticator`; 401 with the reason);
/// 2. **authorize**: role ∩ attributes ∩ pump model ∩ prescription must allow the change's kind
///    (403 `not_authorized` for an empty intersection, `control_not_permitted` for another kind);
///    every 403 is audited (`access.denied`);
/// 3. **policy**: `TherapyPolicy` on the pump's context (prescription and model from the store,
///    the settings the gateway expects the pump to hold, insulin delivered and on its way,
///    the pump's lockout): accept, needs approval, or reject with reasons;
/// 4. **audit append, durable** (`change.requested` with the decision), then the store: the
///    change-request store appends every step before it records it;
/// 5. when the pump is connected and nothing is in flight: `markSent` (audited, allocates the
///    sequence) — only after it returns is the envelope **built and signed** with the command key;
/// 6. **deliver** it over the pump's session;
/// 7. **verify the signed acknowledgement** (pump certificate, serial, sequence, the digest of
///    the command as sent) and **append it** (`command.acknowledged`); the request ends applied or
///    refused by the pump, and the settings digest the pump reports is compared with the
///    settings the gateway expects.
///
/// ## Sessions, one command at a time, reconciliation
/// Per pump, everything happens in one order on one worker (``PumpMailboxes``): the hello, the
/// acknowledgements, the disconnect, API operations, deliveries. One command is in flight per
/// pump. A session that ends with a command sent and not acknowledged leaves it `uncertain`
/// (audited); the next hello settles it from the pump's last applied sequence (applied or not
/// applied, `command.reconciled`) and it is never re-sent. Queued commands past their expiry are
/// expired by `sweep()` (run every `sweepInterval` by `run()`), which also ends a session whose
/// acknowledgement is overdue.
///
/// ## Expected settings
/// A clinician states the pump's settings with its prescription (`setTherapy`); every change
/// the pump applies moves them on. Each hello and acknowledgement carries the pump's settings
/// digest; a mismatch is a security event and holds deliveries and new changes for the pump
/// until a clinician sets its therapy again (with the settings the pump reports).
///
/// ## Running it
/// `recover()` once at startup (before serving), then `run()` for as long as the gateway
/// serves: it starts the pumps' workers and the sweep, and API operations wait for it.
public actor CommandPipeline: PumpSessionObserver {
    public struct Configuration: Sendable {
        /// How often `run()` calls `sweep()`; nil: never (tests call it themselves).
        public var sweepInterval: Duration?
        /// A command not acknowledged this long after it was sent ends its session.
        public var acknowledgementTimeoutMilliseconds: Int64
        /// A change not acknowledged this long while a lockout waits behind it ends its session,
        /// so that the lockout goes first on the next one.
        public var lockoutPreemptMilliseconds: Int64 = 2_000

        /// A crash test's fault: the process kills itself (SIGKILL) right after a command's send
        /// is durable in the audit log and before the command is signed and written, the one
        /// moment a restart must find "sent" in the log and nothing on the wire.
        /// (`medtunnel gateway` sets it from `MEDTUNNEL_CRASH_AFTER_SEND_AUDITED=1`.)
        public var crashAfterSendAudited = false

        public init(sweepInterval: Duration? = .seconds(1), acknowledgementTimeoutMilliseconds: Int64 = 30_000) {
            self.sweepInterval = sweepInterval
            self.acknowledgementTimeoutMilliseconds = acknowledgementTimeoutMilliseconds
        }
    }

    public nonisolated let store: ChangeRequestStore
    public nonisolated let audit: AuditLog
    public nonisolated let configuration: Configuration
    nonisolated let authenticator: Authenticator
    nonisolated let signer: CommandSigner
    nonisolated let pumpKeys: PumpKeys
    nonisolated let clock: @Sendable () -> Timestamp
    nonisolated let logger: Logger
    nonisolated let mailboxes = PumpMailboxes()
    private nonisolated let sessionNumbers = Atomic<UInt64>(0)
    /// Told of each security event once it is audited (the gateway's registry mirrors them).
    nonisolated let securityObserver = Mutex<(@Sendable (PipelineSecurityEvent) -> Void)?>(nil)
    /// Told of what the anomaly rules watch (commands cut through a phone, policy rejections,
    /// pumps connecting through a phone) as it happens.
    nonisolated let observationSink = Mutex<(@Sendable (PipelineObservation) -> Void)?>(nil)
    /// Told of the phones shut out by lockouts whenever that set changes (the gateway closes
    /// their uplinks and refuses new ones).
    nonisolated let phoneLockoutObserver = Mutex<(@Sendable (Set<String>) -> Void)?>(nil)
    /// Each pump's latest telemetry readings (reservoir, glucose, suspended, battery), written by
    /// its session's event loop and read by the policy; one small entry per pump.
    nonisolated let clinicalReadings = Mutex<[String: ClinicalReadings]>([:])
    /// When this node last lost its lease on a pump (a pause, the database cut): sessions that end
    /// soon after were most likely cut by that, not by their phones.
    nonisolated let leaseLostAt = Mutex<ContinuousClock.Instant?>(nil)
    /// The pairing codes pumps are showing, as they offered them through their tunnels.
    nonisolated let pairingOffers = Mutex(PairingOffers())
    /// The gateway's lockouts (nil: a pipeline without lockouts, as in some tests).
    public nonisolated let lockouts: LockoutStore?
    /// What the gateway knows of each pump it has seen; touched only by the pump's worker
    /// (and read by `sweep`).
    var pumps: [String: PumpSlot] = [:]
    /// This node's leases among several (nil: one gateway, every connected pump is its own).
    var leases: LeaseKeeper?
    /// The lockouts in force when `lockoutsChanged` last told the connected pumps (nil: never):
    /// a notification or sweep that finds the same set sends nothing to anyone.
    var lockoutsInForceToldPumps: Set<LockoutID>?

    public init(
        store: ChangeRequestStore,
        audit: AuditLog,
        authenticator: Authenticator,
        signer: CommandSigner,
        pumpKeys: PumpKeys,
        lockouts: LockoutStore? = nil,
        configuration: Configuration = Configuration(),
        logger: Logger,
        clock: @escaping @Sendable () -> Timestamp = CommandPipeline.wallClock
    ) {
        self.lockouts = lockouts
        self.store = store
        self.audit = audit
        self.authenticator = authenticator
        self.signer = signer
        self.pumpKeys = pumpKeys
        self.configuration = configuration
        self.logger = logger
        self.clock = clock
    }

    /// The system clock in milliseconds.
    public static func wallClock() -> Timestamp {
        Timestamp(millisecondsSinceEpoch: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))
    }

    /// Puts the change-request store back in step with the audit log after a stop of any kind
    /// (commands in flight become uncertain). Call once, before `run()` and before serving.
    public func recover() async throws -> ChangeRecoveryReport {
        let report = try await store.recover(now: clock())
        if let lockouts {
            // The change store commits without fsync: after a power loss, raise its counters past
            // every lockout sequence the log shows sent.
            for (serial, sequence) in try await lockouts.recover() {
                try await store.raiseSequence(for: serial, atLeast: sequence)
            }
        }
        for problem in report.problems {
            logger.error("recovery found a problem", metadata: ["problem": "\(problem)"])
        }
        return report
    }

    /// Runs the pumps' workers and the periodic sweep until the calling task is cancelled.
    /// Call once. When it returns, API operations fail with 503 and pump events are dropped.
    public nonisolated func run() async {
        await withDiscardingTaskGroup { group in
            if let interval = configuration.sweepInterval {
                group.addTask { await self.sweepEvery(interval) }
            }
            for await serial in mailboxes.starts {
                group.addTask { await self.drain(serial) }
            }
            group.cancelAll()
        }
        mailboxes.close()
    }

    /// `observer` is told of every security event once it is audited (replaces any earlier one).
    public nonisolated func observeSecurityEvents(_ observer: @escaping @Sendable (PipelineSecurityEvent) -> Void) {
        securityObserver.withLock { $0 = observer }
    }

    /// Returns once nothing is queued or running for `serial` (tests, the demo).
    public nonisolated func waitUntilIdle(_ serial: String) async {
        await mailboxes.waitUntilIdle(serial)
    }

    /// Expires queued commands past their expiry (each audited, `command.expired`) and ends the
    /// session of any pump whose acknowledgement is overdue (its command becomes uncertain).
    public func sweep() async {
        let now = clock()
        do {
            for request in try await store.expire(now: now) {
                logger.info(
                    "change expired undelivered (queued, or not approved in time)",
                    metadata: ["device": "\(request.pumpSerial)", "request": "\(request.id)"]
                )
            }
        } catch {
            logger.error("expiry sweep failed", metadata: ["error": "\(error)"])
        }
        for (serial, slot) in pumps {
            let action = slot.delivery.checkDeadline(
                nowMilliseconds: now.millisecondsSinceEpoch,
                timeoutMilliseconds: configuration.acknowledgementTimeoutMilliseconds,
                preemptMilliseconds: configuration.lockoutPreemptMilliseconds
            )
            guard case .endSession(let session, let inFlight, let preempted) = action else { continue }
            await securityEvent(
                "acknowledgement_timeout",
                serial: serial,
                detail: preempted
                    ? "no acknowledgement for sequence \(inFlight.sequence) while a lockout waits; the session is "
                        + "ended so that the lockout goes first on the next one"
                    : "no acknowledgement for sequence \(inFlight.sequence) after "
                        + "\(configuration.acknowledgementTimeoutMilliseconds) ms; the session is ended"
            )
            session.channel.close()
        }
    }

    /// What the pipeline holds for one pump right now.
    public func status(of serial: String) async -> PumpCommandStatus {
        let slot = pumps[serial]
        var lockoutIDs: [String] = []
        if let lockouts {
            var attributes = await lockouts.attributes(of: serial)
            attributes.model = slot?.model ?? attributes.model
            attributes.firmware = slot?.firmware ?? attributes.firmware
            if case .locked(_, let ids) = await lockouts.order(for: attributes) { lockoutIDs = ids.map(\.rawValue) }
        }
        return PumpCommandStatus(
            connected: slot?.delivery.session != nil,
            inFlightSequence: slot?.delivery.inFlight?.sequence,
            settingsDivergence: slot?.divergence,
            lockouts: lockoutIDs,
            reportedMode: slot?.reportedMode ?? [],
            model: slot?.model,
            firmware: slot?.firmware,
            lastAppliedSequence: slot?.lastAppliedSequence
        )
    }

    // MARK: Session events (PumpSessionObserver)

    public nonisolated func pumpConnected(
        serial: String,
        hello: InnerMessage.Hello,
        channel: PumpSessionChannel
    ) -> PumpLink {
        let number = sessionNumbers.wrappingAdd(1, ordering: .relaxed).newValue
        let link = PumpLink(serial: serial, session: number)
        mailboxes.post(.connected(link, hello, channel), to: serial)
        return link
    }

    public nonisolated func acknowledgement(_ signed: SignedAcknowledgement, on link: PumpLink) {
        mailboxes.post(.acknowledgement(link, signed), to: link.serial)
    }

    /// An acknowledgement frame body not yet decoded.
    public nonisolated func acknowledgement(body: [UInt8], on link: PumpLink) {
        do {
            acknowledgement(try SignedAcknowledgement.decode(body[...]), on: link)
        } catch {
            mailboxes.post(.malformedAcknowledgement(link, "\(error)"), to: link.serial)
        }
    }

    public nonisolated func telemetry(_ telemetry: InnerMessage.Telemetry, on link: PumpLink) {
        let received = clock()
        let share = clinicalReadings.withLock { readings in
            readings[link.serial, default: ClinicalReadings()].note(telemetry, received: received)
            return readings[link.serial]?.shareDue(now: received, shared: store.databaseHealth != nil) ?? false
        }
        if share {
            mailboxes.post(
                .job(PumpJob(run: { await self.shareReport(link.serial) }, abandon: {})),
                to: link.serial
            )
        }
    }

    public nonisolated func pumpDisconnected(_ link: PumpLink) {
        mailboxes.post(.disconnected(link), to: link.serial)
    }

    // MARK: Workers

    private nonisolated func sweepEvery(_ interval: Duration) async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
            await sweep()
        }
    }

    private nonisolated func drain(_ serial: String) async {
        while let event = mailboxes.take(serial) {
            await handle(event, serial: serial)
        }
    }

    private func handle(_ event: PumpEvent, serial: String) async {
        let slot = self.slot(serial)
        switch event {
        case .connected(let link, let hello, let channel):
            await connected(link, hello: hello, channel: channel, slot: slot)
        case .acknowledgement(let link, let signed):
            await acknowledged(signed, on: link, slot: slot)
        case .malformedAcknowledgement(let link, let problem):
            await securityEvent("malformed_acknowledgement", serial: link.serial, detail: problem)
        case .disconnected(let link):
            guard let session = slot.delivery.session, session.link == link,
                case .ended(let inFlight) = slot.delivery.disconnected(session)
            else { break }  // an older session, already replaced
            await sessionEnded(serial, carrier: session.carrier, inFlight: inFlight)
        case .job(let job):
            await job.run()
        }
        await deliverNext(serial, slot: slot)
    }

    func slot(_ serial: String) -> PumpSlot {
        if let slot = pumps[serial] { return slot }
        let slot = PumpSlot()
        pumps[serial] = slot
        return slot
    }
}

/// What ``CommandPipeline/status(of:)`` reports.
public struct PumpCommandStatus: Sendable, Hashable {
    public let connected: Bool
    /// The sequence of the command sent and not yet acknowledged.
    public let inFlightSequence: UInt64?
    /// Why deliveries and new changes are held: the pump's settings differ from the expected.
    public let settingsDivergence: String?
    /// The gateway's lockouts in force over the pump (empty: none).
    public let lockouts: [String]
    /// What the pump last said of itself (hello or acknowledgement).
    public let reportedMode: PumpMode
    public let model: String?
    public let firmware: String?
    /// The last applied sequence its latest hello reported.
    public let lastAppliedSequence: UInt64?
}

/// Something the anomaly rules watch, reported as it happens: `command_uncertain` and
/// `command_not_applied` (with the phone that carried the command), `policy_rejection`,
/// `pump_connected` (with its phone).
public struct PipelineObservation: Sendable, Hashable {
    public let kind: String
    public let pump: String
    public let phone: String?
    public let detail: String
    public let time: Timestamp
}
