/// A value that travels signed: its field bytes, then a signature by the sender's ECDSA
/// P-256 key.
///
/// Signature: ECDSA P-256 over SHA-256 of `signingContext ‖ fieldBytes`, carried raw as
/// r ‖ s, 32 bytes each, big-endian (64 bytes; not DER: a fixed size is checked with the
/// frame length, and the pump parses no ASN.1 from the network). The context is a
/// domain-separation prefix that is never sent: a command signature cannot be passed off as
/// an acknowledgement or anything else the same key signs. ECDSA signatures are malleable
/// ((r, n − s) verifies too); nothing relies on their bytes being unique: a command is
/// identified by its serial and sequence, never by its signature.
public protocol SignedContent: Sendable, Hashable {
    /// The domain-separation prefix of the signed message (ASCII, NUL-terminated).
    static var signingContext: [UInt8] { get }
    /// The canonical encoding of the fields (everything but the signature).
    var fieldBytes: [UInt8] { get }
    /// Decodes the fields; the result's `fieldBytes` equal `bytes` (one encoding per value).
    static func decodeFields(_ bytes: ArraySlice<UInt8>) throws(TunnelProtocolError) -> Self
}

public struct Signed<Content: SignedContent>: Sendable, Hashable {
    public static var signatureLength: Int { 64 }

    public let content: Content
    /// r ‖ s, 64 bytes.
    public let signature: [UInt8]

    /// Throws `invalidField` unless `signature` is 64 bytes.
    public init(_ content: Content, signature: [UInt8]) throws(TunnelProtocolError) {
        guard signature.count == Self.signatureLength else {
            throw TunnelProtocolError(.invalidField, "a signature is 64 bytes (r ‖ s), not \(signature.count)")
        }
        self.content = content
        self.signature = signature
    }

    /// The message the signature covers: `signingContext ‖ fieldBytes`. Sign or verify it
    /// with ECDSA P-256 over its SHA-256.
    public var signedMessage: [UInt8] { Content.signingContext + self.content.fieldBytes }

    /// The frame body: the fields, then the signature.
    public var encoded: [UInt8] { self.content.fieldBytes + self.signature }

    /// Splits a frame body into fields and signature and decodes the fields. The signature
    /// is not verified here: that takes the sender's key.
    public static func decode(_ body: ArraySlice<UInt8>) throws(TunnelProtocolError) -> Signed<Content> {
        guard body.count > Self.signatureLength else {
            throw TunnelProtocolError(.badLength, "a signed body of \(body.count) bytes has no room for its fields")
        }
        let split = body.endIndex - Self.signatureLength
        let content = try Content.decodeFields(body[body.startIndex..<split])
        return try Signed(content, signature: Array(body[split...]))
    }
}

/// A command envelope with the gateway's signature.
public typealias SignedCommand = Signed<CommandEnvelope>
/// An acknowledgement with the pump's signature.
public typealias SignedAcknowledgement = Signed<CommandAcknowledgement>

extension Signed where Content == CommandEnvelope {
    public var envelope: CommandEnvelope { self.content }
}

extension InnerMessage {
    /// The command frame for `signed`.
    public static func command(_ signed: SignedCommand) -> InnerMessage { .command(body: signed.encoded) }
}

extension Signed where Content == CommandAcknowledgement {
    public var acknowledgement: CommandAcknowledgement { self.content }
}
