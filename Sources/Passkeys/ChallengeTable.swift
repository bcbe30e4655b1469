/// Challenges issued and not yet used: 32 random bytes each, for one ceremony kind and one
/// binding (the invited user, the session), valid 5 minutes, and used at most once: `consume`
/// forgets a challenge whatever the outcome, so a replayed response finds nothing.
///
/// A pure value: the caller keeps it in an actor and passes randomness and time in.
/// Sign-in challenges are issued to anyone, so the table is bounded: past ``capacity`` the
/// expired ones go first, then the oldest.
public struct ChallengeTable: Sendable {
    public enum Ceremony: String, Sendable, Hashable {
        case registration
        case signIn = "signin"
        case stepUp = "stepup"
    }

    public struct Challenge: Sendable, Hashable {
        public let bytes: [UInt8]
        public let ceremony: Ceremony
        /// Who it was issued for: a user id, a session id; nil for sign-in (nobody is known yet).
        public let binding: String?
        public let expiresAtMilliseconds: Int64
        /// Base64url, as the browser is given it and sends it back in clientDataJSON.
        public var text: String { Base64URLText.encode(bytes) }
    }

    public static let size = 32
    public static let lifetimeMilliseconds: Int64 = 5 * 60 * 1000
    public static let capacity = 10_000

    private var live: [String: Challenge] = [:]
    private var order: [String] = []

    public init() {}

    public var count: Int { live.count }

    public mutating func issue(
        _ ceremony: Ceremony,
        binding: String?,
        nowMilliseconds: Int64,
        using generator: inout some RandomNumberGenerator
    ) -> Challenge {
        // `order` keeps used ones too until the next eviction: compact it before it grows past twice.
        if live.count >= Self.capacity || order.count >= 2 * Self.capacity { evict(nowMilliseconds: nowMilliseconds) }
        let bytes = (0..<Self.size).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let challenge = Challenge(
            bytes: bytes,
            ceremony: ceremony,
            binding: binding,
            expiresAtMilliseconds: nowMilliseconds + Self.lifetimeMilliseconds
        )
        live[challenge.text] = challenge
        order.append(challenge.text)
        return challenge
    }

    /// The challenge `text` names, removed from the table: `challenge_unknown` when it was never
    /// issued, was used already or is past its lifetime; `challenge_mismatch` when it was issued
    /// for another ceremony or binding.
    public mutating func consume(
        _ text: String,
        ceremony: Ceremony,
        binding: String?,
        nowMilliseconds: Int64
    ) throws(PasskeyError) -> Challenge {
        guard let challenge = live.removeValue(forKey: text) else {
            throw PasskeyError(
                .challengeUnknown,
                "the challenge is unknown or was used already; start the \(ceremony.rawValue) again"
            )
        }
        guard nowMilliseconds < challenge.expiresAtMilliseconds else {
            throw PasskeyError(
                .challengeUnknown,
                "the challenge expired (5 minutes); start the \(ceremony.rawValue) again"
            )
        }
        guard challenge.ceremony == ceremony, challenge.binding == binding else {
            throw PasskeyError(
                .challengeMismatch,
                "the challenge was issued for another ceremony or user; start the \(ceremony.rawValue) again"
            )
        }
        return challenge
    }

    private mutating func evict(nowMilliseconds: Int64) {
        live = live.filter { nowMilliseconds < $0.value.expiresAtMilliseconds }
        order.removeAll { live[$0] == nil }
        while live.count >= Self.capacity, !order.isEmpty {
            live.removeValue(forKey: order.removeFirst())
        }
    }
}
