import Crypto
public import TherapyModel
public import TunnelProtocol

extension SettingsDigest {
    /// SHA-256 of `message(for:)`, computed with swift-crypto (the pump uses mbedTLS).
    public static func sha256(of settings: TherapySettings) -> [UInt8] {
        Array(SHA256.hash(data: Self.message(for: settings)))
    }
}

/// The digest an acknowledgement carries for the command it answers.
public enum CommandDigest {
    /// SHA-256 of the command frame body as sent.
    public static func sha256(of command: SignedCommand) -> [UInt8] {
        Array(SHA256.hash(data: command.encoded))
    }
}
