public import AccessTokens
import ChangeRequests
public import SafetyPolicy

/// Which pumps a person may read: every pump for operators, incident staff and admins; the
/// pumps paired to their patients for patients, caregivers and clinicians.
public enum PumpScope: Sendable, Hashable {
    case all
    case pumps(Set<String>)

    public func contains(_ serial: String) -> Bool {
        switch self {
        case .all: true
        case .pumps(let serials): serials.contains(serial)
        }
    }
}

extension CommandPipeline {
    /// The roles that review every pump (and never change therapy).
    public static let reviewerRoles: Set<ActorRole> = [.operator, .incident, .admin]

    /// The actor behind an `Authorization` header (401 `ChangeAPIError` otherwise).
    public nonisolated func authenticatedUser(
        _ authorization: String?
    ) async throws(ChangeAPIError)
        -> AuthenticatedUser
    {
        try await authenticate(authorization)
    }

    /// The pumps `user` may read.
    public nonisolated func readScope(of user: AuthenticatedUser) async throws(ChangeAPIError) -> PumpScope {
        if Self.reviewerRoles.contains(user.actor.role) { return .all }
        do {
            return .pumps(try await store.pumpSerials(ofPatients: user.actor.patientIDs))
        } catch {
            throw .internal(error)
        }
    }

    /// The 403 for a pump outside the reader's scope. The same answer whether the pump exists or
    /// not, and it names no patient: a refusal must not tell who is behind a serial.
    public static func notYourPump(_ serial: String) -> ChangeAPIError {
        .forbidden(
            PolicyReason.Code.notAuthorized.rawValue,
            "you may not read pump \(serial.prefix(64)); a person reads only the pumps of the patients they act for"
        )
    }
}
