public import Passkeys

/// The challenges issued and not yet used (`ChallengeTable`), shared by the console's requests.
public actor ChallengeStore {
    private var table = ChallengeTable()
    private var generator = SystemRandomNumberGenerator()

    public init() {}

    public func issue(
        _ ceremony: ChallengeTable.Ceremony,
        binding: String?,
        nowMilliseconds: Int64
    ) -> ChallengeTable.Challenge {
        table.issue(ceremony, binding: binding, nowMilliseconds: nowMilliseconds, using: &generator)
    }

    public func consume(
        _ text: String,
        ceremony: ChallengeTable.Ceremony,
        binding: String?,
        nowMilliseconds: Int64
    ) throws(PasskeyError) -> ChallengeTable.Challenge {
        try table.consume(text, ceremony: ceremony, binding: binding, nowMilliseconds: nowMilliseconds)
    }
}
