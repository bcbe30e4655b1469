import Lockouts
import Logging
public import NodeLeases
import SafetyPolicy

/// Delivery among several gateway nodes: a pump's commands are sent only by the node that owns
/// it in the shared database (docs/cluster.md). With no keeper (one gateway on SQLite), every
/// pump connected here is this node's.
///
/// - A hello asks for the pump (`want`); the end of its session gives it up (`drop`).
/// - Nothing is delivered before the pump is owned; gaining it runs the pump's worker, which
///   delivers what waits.
/// - Before a send is audited the whole fence is asked (the local deadline, then the database);
///   right before the bytes are written, its local half again, so a node stopped between the two
///   (SIGSTOP, a long pause) writes nothing once its lease may have ended.
/// - A node asked to let go of a pump (it said hello to another node) ends its session here.
extension CommandPipeline {
    /// Makes deliveries depend on `keeper`'s leases. Call before `run()`.
    public func useLeases(_ keeper: LeaseKeeper) async {
        self.leases = keeper
        var handlers = LeaseKeeper.Handlers()
        handlers.gained = { [weak self] subject in
            guard subject.kind == .pump, let self else { return }
            // Any event runs the pump's worker, which then delivers what waits.
            self.mailboxes.post(.job(PumpJob(run: {}, abandon: {})), to: subject.name)
        }
        handlers.lost = { [weak self] subject, _ in
            guard subject.kind == .pump, let self else { return }
            self.leaseLostAt.withLock { $0 = .now }
        }
        handlers.yield = { [weak self] subject, reason in
            guard subject.kind == .pump, let self else { return }
            self.mailboxes.post(
                .job(PumpJob(run: { await self.yieldSession(subject.name, reason: reason) }, abandon: {})),
                to: subject.name
            )
        }
        await keeper.setHandlers(handlers)
    }

    func yieldSession(_ serial: String, reason: String) {
        guard let session = pumps[serial]?.delivery.session else { return }
        pumps[serial]?.handedOver = true
        logger.notice(
            "pump session handed to another node; ending it here",
            metadata: ["device": "\(serial)", "reason": "\(reason)"]
        )
        session.channel.close()
    }

    /// Whether the pump's session ended through no doing of this node: it held the pump's lease
    /// throughout, under the epochs its last send was let through with, lost none of its leases
    /// in the last three lease periods, and did not end the session to hand the pump over. Only then may the phone that carried it be suspected of
    /// cutting it (nil keeper: one gateway, always).
    func sessionCutByCarrier(_ serial: String) async -> Bool {
        guard let leases else { return true }
        let slot = pumps[serial]
        guard !(slot?.handedOver ?? false) else { return false }
        // A node that lost its leases a moment ago (stopped, cut from the database) left its
        // pumps without answers; they may well drop their sessions themselves a little later,
        // with commands in flight that were re-sent under a lease taken again meanwhile.
        let window = Duration.milliseconds(3 * leases.configuration.leaseMilliseconds)
        if let lost = leaseLostAt.withLock({ $0 }), ContinuousClock.now - lost < window { return false }
        guard case .granted(let nodeEpoch, let epoch) = await leases.localDecision(.pump(serial)) else { return false }
        guard let sent = slot?.sentUnder else { return true }
        return sent.nodeEpoch == nodeEpoch && sent.epoch == epoch
    }

    /// Whether this node may deliver to the pump without asking the database (nil keeper: yes).
    func ownsDelivery(_ serial: String) async -> Bool {
        guard let leases else { return true }
        return await leases.isHeld(.pump(serial))
    }

    /// The whole fence (the local deadline, then the database) before a send is audited, or
    /// its local half alone right before the bytes are written; logs a refusal.
    func passesFence(_ serial: String, beforeWrite: Bool) async -> Bool {
        guard let leases else { return true }
        let subject = LeaseBook.Subject.pump(serial)
        let decision = beforeWrite ? await leases.localDecision(subject) : await leases.fence(subject)
        if case .granted(let nodeEpoch, let epoch) = decision {
            pumps[serial]?.sentUnder = (nodeEpoch, epoch)
            return true
        }
        guard case .refused(let reason) = decision else { return true }
        if beforeWrite {
            logger.error(
                "a send audited but not written: the lease ran out meanwhile; ending the session",
                metadata: ["device": "\(serial)", "reason": "\(reason)"]
            )
        } else {
            logger.warning(
                "send withheld by the lease fence",
                metadata: ["device": "\(serial)", "reason": "\(reason)"]
            )
        }
        return false
    }
}

extension CommandPipeline {
    /// The pump's queue changed on some node (the shared database's notification): if its
    /// session is here, its worker runs and delivers what waits. Elsewhere: nothing to do.
    public func queueChanged(_ serial: String) {
        guard pumps[serial]?.delivery.session != nil else { return }
        // Settles what another node made uncertain meanwhile; the worker then delivers.
        mailboxes.post(.job(PumpJob(run: { await self.settleLateUncertain(serial) }, abandon: {})), to: serial)
    }

    /// The fallback for a lost notification (the listener's connection dropped): every pump
    /// connected here with requests still open, or a command made uncertain elsewhere, is looked
    /// at, one query for all.
    public func wakeWaitingPumps() async {
        let serials: [String]
        do {
            serials = try await store.pumpsWithWork()
        } catch {
            logger.warning("could not list the pumps with open requests", metadata: ["error": "\(error)"])
            return
        }
        for serial in serials { queueChanged(serial) }
    }
}

extension CommandPipeline {
    /// Why the database cannot be reached now, as the audit log's connection, the change store's
    /// or the lockout store's last found; nil while all answer (or on SQLite).
    public nonisolated func databaseProblem() async -> String? {
        if let problem = await audit.databaseProblem { return problem }
        return store.databaseHealth?.currentProblem ?? lockouts?.databaseHealth?.currentProblem
    }
}

extension CommandPipeline {
    /// Shares what the pump last reported (a shared database only), for the policy checks of the
    /// nodes that take changes for it. Runs on the pump's worker.
    func shareReport(_ serial: String) async {
        guard store.databaseHealth != nil, let slot = pumps[serial], slot.delivery.session != nil else { return }
        let report = reportedState(serial, slot: slot)
        do {
            try await store.shareReport(report, for: serial, node: leases?.configuration.nodeID ?? "gateway")
        } catch {
            logger.warning("could not share the pump's report", metadata: ["device": "\(serial)", "error": "\(error)"])
        }
    }

    /// What the policy reads of the pump: its own reports when its session is here; otherwise,
    /// on a shared database, what the node holding its session shared (whichever is newer).
    func policyReport(_ serial: String, slot: PumpSlot) async -> ReportedPumpState {
        let local = reportedState(serial, slot: slot)
        guard slot.delivery.session == nil, store.databaseHealth != nil,
            let shared = try? await store.sharedReport(for: serial)
        else { return local }
        return local.merging(shared)
    }
}
