/// Where leases live: the shared database (`PostgresLeaseStore`, module ClusterPostgres). Every
/// expiry is decided on the database's clock, never on a node's.
public protocol LeaseStore: Sendable {
    /// Takes the node lease with a new epoch. `.heldUntil`: a previous run of the same node id
    /// still holds it for that many milliseconds (a crashed process must not be doubled).
    func acquireNode(_ nodeID: String, leaseMilliseconds: Int64) async throws -> NodeAcquisition
    /// Extends the node lease; false when the database no longer holds it under `epoch`.
    func renewNode(_ nodeID: String, epoch: Int64, leaseMilliseconds: Int64) async throws -> Bool
    /// Ends the node lease at once (a clean stop), so a restart need not wait for it to run out.
    func releaseNode(_ nodeID: String, epoch: Int64) async throws
    /// Takes a subject under a live node lease: owned (same epoch when already this node's, the
    /// next epoch when taken from a node whose lease ended or that released it), or held by
    /// another live node.
    func acquire(_ subject: LeaseBook.Subject, nodeID: String, nodeEpoch: Int64) async throws -> SubjectAcquisition
    /// Gives a subject up (nil epoch: whatever this node holds for it).
    func release(_ subject: LeaseBook.Subject, nodeID: String, epoch: Int64?) async throws
    /// The fence: true only while this node owns the subject under `epoch`, under its live
    /// node lease `nodeEpoch`, as the database sees it now.
    func fence(_ subject: LeaseBook.Subject, nodeID: String, nodeEpoch: Int64, epoch: Int64) async throws -> Bool
    /// Who holds each subject of `kind` under a live node lease, as the database sees it now:
    /// subject name → node id (a pump's entry: the node with its session).
    func liveHolders(_ kind: LeaseBook.SubjectKind) async throws -> [String: String]
    /// Tells the node holding a pump that another node has its session now.
    func askRelease(_ subject: LeaseBook.Subject, holder: String, from nodeID: String) async throws
    /// The requests addressed to `nodeID`, for as long as the listener lives. Ends (or throws)
    /// when the connection behind it is lost; the keeper listens again.
    func releaseRequests(for nodeID: String) async throws -> AsyncThrowingStream<LeaseBook.Subject, any Error>
}

public enum NodeAcquisition: Sendable, Equatable {
    case acquired(epoch: Int64)
    case heldUntil(milliseconds: Int64)
}

public enum SubjectAcquisition: Sendable, Equatable {
    case owned(epoch: Int64)
    case held(by: String)
}
