/// A registered passkey as stored: whose it is, its public key and its signature counter.
public struct PasskeyCredential: Sendable, Hashable {
    public let credentialID: [UInt8]
    public let userID: String
    /// The opaque handle the authenticator keeps for the user (`user.id` at registration) and
    /// returns in a discoverable sign-in.
    public let userHandle: [UInt8]
    /// P-256, x9.63 uncompressed (65 bytes).
    public let publicKey: [UInt8]
    public let signCount: UInt32
    public let createdAtMilliseconds: Int64
    public let lastUsedAtMilliseconds: Int64?

    public init(
        credentialID: [UInt8],
        userID: String,
        userHandle: [UInt8],
        publicKey: [UInt8],
        signCount: UInt32,
        createdAtMilliseconds: Int64,
        lastUsedAtMilliseconds: Int64?
    ) {
        self.credentialID = credentialID
        self.userID = userID
        self.userHandle = userHandle
        self.publicKey = publicKey
        self.signCount = signCount
        self.createdAtMilliseconds = createdAtMilliseconds
        self.lastUsedAtMilliseconds = lastUsedAtMilliseconds
    }
}
