/// What one gateway node holds in the shared database, as a pure state machine: its **node
/// lease** (a row renewed every third of its lifetime) and the **subjects** it owns under that
/// lease: each pump whose session it carries, and each role (signing checkpoints) only one node
/// may play at a time. Events return the actions to carry out; `LeaseKeeper` carries them out
/// against a `LeaseStore` and feeds the results back. Time is passed in, in milliseconds of a
/// clock that never goes back and keeps counting while the process is stopped
/// (`LeaseClock.boottime`).
///
/// ## Why a node lease and owners under it
/// One row per node is renewed, not one per pump: a node with a hundred thousand pumps renews
/// one row. A pump's owner row names the node and the node lease's epoch; it is valid only while
/// that node lease is live. When a node dies or pauses, its lease expires in the database and
/// every pump it owned can be taken by the node the pump reconnects to, each with a new **pump
/// epoch** (the fencing token).
///
/// ## The local deadline
/// The database decides expiry on its own clock (`clock_timestamp()` + lifetime, set when it
/// runs the renewal). The node counts its deadline from the moment it *asked* (earlier than the
/// database's moment) minus a safety margin, so it always believes its lease ends before the
/// database does. A node that stopped (SIGSTOP, a long GC-like pause, a cut to the database)
/// finds its deadline passed when it runs again and sends nothing before it has renewed: the
/// fence's first half needs no round trip. The second half (`LeaseStore.fence`) asks the
/// database, right before a command's send is audited.
///
/// ## Who gives way
/// A pump's hello is the freshest evidence of where it is. A node that gets a hello for a pump
/// another live node owns asks that node to let go (`askRelease`; the owner ends its session,
/// which releases the pump) and retries until it owns it or the owner's lease expires. A node
/// that *lost* a pump it owned (its lease lapsed and another node took the pump) does not ask:
/// its session is the older one, so it ends it.
public struct LeaseBook: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var nodeID: String
        /// The node lease's lifetime in the database.
        public var leaseMilliseconds: Int64
        /// Subtracted from the local deadline: the database's and this machine's clocks may run
        /// at slightly different rates, and the renewal's answer takes time to arrive.
        public var marginMilliseconds: Int64
        /// How soon to try again after a failed renewal or a subject held by another node.
        public var retryMilliseconds: Int64

        public init(nodeID: String, leaseMilliseconds: Int64 = 10_000) {
            self.nodeID = nodeID
            self.leaseMilliseconds = max(leaseMilliseconds, 300)
            self.marginMilliseconds = max(self.leaseMilliseconds / 10, 50)
            self.retryMilliseconds = max(min(self.leaseMilliseconds / 10, 1_000), 50)
        }

        /// A renewal is due a third of the way through the lease, leaving two tries before it ends.
        public var renewAfterMilliseconds: Int64 { self.leaseMilliseconds / 3 }
    }

    public enum SubjectKind: String, Sendable, Hashable {
        /// A pump's delivery: the node carrying its session sends its commands.
        case pump
        /// A role one node plays at a time (`checkpoint`: signing the audit log's checkpoints).
        case role
    }

    public struct Subject: Sendable, Hashable, CustomStringConvertible {
        public let kind: SubjectKind
        public let name: String
        public init(_ kind: SubjectKind, _ name: String) {
            self.kind = kind
            self.name = name
        }
        public static func pump(_ serial: String) -> Subject { Subject(.pump, serial) }
        public static func role(_ name: String) -> Subject { Subject(.role, name) }
        public var description: String { "\(self.kind.rawValue) \(self.name)" }
    }

    public enum Action: Sendable, Equatable {
        /// Take the node lease (a new epoch). Answer with `nodeAcquired` or `nodeAcquireFailed`.
        case acquireNode
        /// Extend it. Answer with `nodeRenewed(true|false)` or `nodeRenewFailed`.
        case renewNode(epoch: Int64)
        /// Take a subject under the node lease. Answer with `subjectAcquired`, `subjectHeld` or
        /// `subjectAcquireFailed`.
        case acquire(Subject, nodeEpoch: Int64)
        /// Let a subject go (nil epoch: whatever row this node holds for it).
        case release(Subject, epoch: Int64?)
        /// Ask the live node holding it to let a pump go.
        case askRelease(Subject, holder: String)
        /// The subject is this node's now: deliver what waits for the pump, start the role.
        case gained(Subject)
        /// Not this node's for now (its node lease lapsed): send nothing until it is gained again.
        /// A pump's session stays open.
        case lost(Subject, reason: String)
        /// Another node has the pump now: end its session here (it is the older one).
        case yield(Subject, reason: String)
        /// The node lease ran out before a renewal came back: nothing is sent until it is back.
        case nodeLeaseLost(reason: String)
    }

    /// What the fence says about sending to a subject now.
    public enum Decision: Sendable, Equatable {
        case granted(nodeEpoch: Int64, epoch: Int64)
        case refused(String)
    }

    enum NodeLease: Sendable, Equatable {
        /// No lease; `asking`: an acquisition is in flight; `retryAt`: when to ask again.
        case none(asking: Bool, retryAt: Int64)
        case held(epoch: Int64, deadline: Int64, renewAt: Int64, renewing: Bool)
    }

    enum Holding: Sendable, Equatable {
        /// Wanted, not owned. `asking`: an acquisition is in flight. `retryAt`: the next try.
        /// `fresh`: wanted because of a new session (it may ask the owner to let go); a subject
        /// wanted again after being lost is not fresh.
        case wanted(asking: Bool, retryAt: Int64, fresh: Bool)
        case owned(epoch: Int64, nodeEpoch: Int64)
    }

    public let configuration: Configuration
    private(set) var node: NodeLease = .none(asking: false, retryAt: 0)
    private(set) var subjects: [Subject: Holding] = [:]

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    // MARK: Queries

    /// The fence's local half: the node lease is within its deadline and the subject is owned.
    public func decision(for subject: Subject, now: Int64) -> Decision {
        guard case .held(let nodeEpoch, let deadline, _, _) = self.node else {
            return .refused("node \(self.configuration.nodeID) holds no lease")
        }
        guard now < deadline else {
            return .refused("node \(self.configuration.nodeID)'s lease ran out \(now - deadline) ms ago")
        }
        guard case .owned(let epoch, let ownedUnder)? = self.subjects[subject], ownedUnder == nodeEpoch else {
            return .refused("node \(self.configuration.nodeID) does not own \(subject)")
        }
        return .granted(nodeEpoch: nodeEpoch, epoch: epoch)
    }

    public var nodeEpoch: Int64? {
        if case .held(let epoch, _, _, _) = self.node { return epoch }
        return nil
    }

    public func nodeDeadline() -> Int64? {
        if case .held(_, let deadline, _, _) = self.node { return deadline }
        return nil
    }

    public var owned: [Subject] {
        self.subjects.compactMap { subject, holding in
            if case .owned = holding { return subject }
            return nil
        }
    }

    public var waiting: [Subject] {
        self.subjects.compactMap { subject, holding in
            if case .wanted = holding { return subject }
            return nil
        }
    }

    // MARK: Events

    /// Called every few hundred milliseconds: renewals, retries, and the deadline.
    public mutating func tick(now: Int64) -> [Action] {
        var actions: [Action] = []
        switch self.node {
        case .none(let asking, let retryAt):
            if !asking && now >= retryAt {
                self.node = .none(asking: true, retryAt: retryAt)
                actions.append(.acquireNode)
            }
        case .held(let epoch, let deadline, let renewAt, let renewing):
            if now >= deadline {
                actions += self.loseNode(now: now, reason: "its lease ran out before a renewal came back")
                return actions + self.tick(now: now)
            }
            if !renewing && now >= renewAt {
                self.node = .held(epoch: epoch, deadline: deadline, renewAt: renewAt, renewing: true)
                actions.append(.renewNode(epoch: epoch))
            }
            for (subject, holding) in self.subjects.sorted(by: { $0.key.description < $1.key.description }) {
                if case .wanted(false, let retryAt, let fresh) = holding, now >= retryAt {
                    self.subjects[subject] = .wanted(asking: true, retryAt: retryAt, fresh: fresh)
                    actions.append(.acquire(subject, nodeEpoch: epoch))
                }
            }
        }
        return actions
    }

    /// This node wants a subject: a pump said hello here, or a role starts.
    public mutating func want(_ subject: Subject, now: Int64) -> [Action] {
        switch self.subjects[subject] {
        case .owned:
            // The pump replaced its session on this node: still ours, under the same epoch.
            return [.gained(subject)]
        case .wanted(let asking, _, _):
            self.subjects[subject] = .wanted(asking: asking, retryAt: now, fresh: true)
            return asking ? [] : self.ask(subject)
        case nil:
            self.subjects[subject] = .wanted(asking: false, retryAt: now, fresh: true)
            return self.ask(subject)
        }
    }

    /// Asks for one wanted subject now, if the node holds its lease (else the next node
    /// acquisition asks for every wanted subject).
    private mutating func ask(_ subject: Subject) -> [Action] {
        guard case .held(let epoch, _, _, _) = self.node,
            case .wanted(false, let retryAt, let fresh)? = self.subjects[subject]
        else { return [] }
        self.subjects[subject] = .wanted(asking: true, retryAt: retryAt, fresh: fresh)
        return [.acquire(subject, nodeEpoch: epoch)]
    }

    /// This node no longer wants a subject (the pump's session ended): release what it owns.
    public mutating func drop(_ subject: Subject) -> [Action] {
        guard let holding = self.subjects.removeValue(forKey: subject) else { return [] }
        if case .owned(let epoch, _) = holding { return [.release(subject, epoch: epoch)] }
        return []
    }

    public mutating func nodeAcquired(epoch: Int64, askedAt: Int64) -> [Action] {
        let configuration = self.configuration
        self.node = .held(
            epoch: epoch,
            deadline: askedAt + configuration.leaseMilliseconds - configuration.marginMilliseconds,
            renewAt: askedAt + configuration.renewAfterMilliseconds,
            renewing: false
        )
        // Everything owned under an older epoch is void: take it again under this one.
        for (subject, holding) in self.subjects {
            if case .owned = holding { self.subjects[subject] = .wanted(asking: false, retryAt: askedAt, fresh: false) }
        }
        return self.tick(now: askedAt)
    }

    /// The node's previous lease (a crashed run of the same node id) is still live until
    /// `retryAfter` ms from now; or the database could not be reached.
    public mutating func nodeAcquireFailed(now: Int64, retryAfter: Int64? = nil) -> [Action] {
        self.node = .none(asking: false, retryAt: now + (retryAfter ?? self.configuration.retryMilliseconds))
        return []
    }

    public mutating func nodeRenewed(_ renewed: Bool, epoch: Int64, askedAt: Int64) -> [Action] {
        guard case .held(let current, let deadline, _, _) = self.node, current == epoch else { return [] }
        guard renewed else {
            return self.loseNode(now: askedAt, reason: "the database no longer holds its lease (epoch \(epoch))")
        }
        let configuration = self.configuration
        self.node = .held(
            epoch: epoch,
            deadline: max(deadline, askedAt + configuration.leaseMilliseconds - configuration.marginMilliseconds),
            renewAt: askedAt + configuration.renewAfterMilliseconds,
            renewing: false
        )
        return []
    }

    public mutating func nodeRenewFailed(epoch: Int64, now: Int64) -> [Action] {
        guard case .held(let current, let deadline, _, _) = self.node, current == epoch else { return [] }
        self.node = .held(
            epoch: epoch,
            deadline: deadline,
            renewAt: now + self.configuration.retryMilliseconds,
            renewing: false
        )
        return now >= deadline ? self.tick(now: now) : []
    }

    public mutating func subjectAcquired(_ subject: Subject, epoch: Int64, nodeEpoch: Int64, now: Int64) -> [Action] {
        guard case .held(let current, _, _, _) = self.node, current == nodeEpoch,
            case .wanted? = self.subjects[subject]
        else {
            // No longer wanted (the session ended meanwhile) or taken under a lease since lost:
            // let it go rather than hold a pump nobody here serves.
            if self.subjects[subject] == nil { return [.release(subject, epoch: epoch)] }
            if case .wanted(_, let retryAt, let fresh)? = self.subjects[subject] {
                self.subjects[subject] = .wanted(asking: false, retryAt: retryAt, fresh: fresh)
            }
            return []
        }
        self.subjects[subject] = .owned(epoch: epoch, nodeEpoch: nodeEpoch)
        return [.gained(subject)]
    }

    /// Another live node owns it.
    public mutating func subjectHeld(_ subject: Subject, by holder: String, now: Int64) -> [Action] {
        guard case .wanted(_, _, let fresh)? = self.subjects[subject] else { return [] }
        let retryAt = now + self.configuration.retryMilliseconds
        switch subject.kind {
        case .role:
            self.subjects[subject] = .wanted(asking: false, retryAt: retryAt, fresh: fresh)
            return []
        case .pump where fresh:
            self.subjects[subject] = .wanted(asking: false, retryAt: retryAt, fresh: true)
            return [.askRelease(subject, holder: holder)]
        case .pump:
            // Lost while this node's lease lapsed, and the pump is elsewhere now: this session is
            // the older one.
            self.subjects[subject] = nil
            return [.yield(subject, reason: "node \(holder) owns it now")]
        }
    }

    public mutating func subjectAcquireFailed(_ subject: Subject, now: Int64) -> [Action] {
        guard case .wanted(_, _, let fresh)? = self.subjects[subject] else { return [] }
        self.subjects[subject] = .wanted(
            asking: false,
            retryAt: now + self.configuration.retryMilliseconds,
            fresh: fresh
        )
        return []
    }

    /// Another node asks for a pump (it said hello there). This node lets go of it: the pump's
    /// session here, if any, is the older one.
    public mutating func releaseAsked(_ subject: Subject) -> [Action] {
        switch self.subjects.removeValue(forKey: subject) {
        case .owned(let epoch, _)?:
            return [.yield(subject, reason: "it said hello to another node"), .release(subject, epoch: epoch)]
        case .wanted?:
            return [.yield(subject, reason: "it said hello to another node"), .release(subject, epoch: nil)]
        case nil:
            // Perhaps a row left from before a restart: release whatever this node holds.
            return [.release(subject, epoch: nil)]
        }
    }

    private mutating func loseNode(now: Int64, reason: String) -> [Action] {
        self.node = .none(asking: false, retryAt: now)
        var actions: [Action] = [.nodeLeaseLost(reason: reason)]
        for (subject, holding) in self.subjects.sorted(by: { $0.key.description < $1.key.description }) {
            if case .owned = holding {
                self.subjects[subject] = .wanted(asking: false, retryAt: now, fresh: false)
                actions.append(.lost(subject, reason: "node lease lost: \(reason)"))
            }
        }
        return actions
    }
}

extension LeaseBook.Action {
    var subject: LeaseBook.Subject? {
        switch self {
        case .acquire(let subject, _), .release(let subject, _), .askRelease(let subject, _), .gained(let subject),
            .lost(let subject, _), .yield(let subject, _):
            return subject
        case .acquireNode, .renewNode, .nodeLeaseLost:
            return nil
        }
    }
}
