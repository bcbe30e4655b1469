/// The text a pairing QR code holds: short, printable and unambiguous, so a scanner hands it
/// over unchanged and the gateway can refuse anything else before doing any cryptography.
///
/// ```
/// MTPAIR1.<base64url(body)>.<base64url(signature)>
/// ```
///
/// | part      | content                                             | length (chars) |
/// |-----------|-----------------------------------------------------|----------------|
/// | prefix    | `MTPAIR1.` (format 1)                               | 8              |
/// | body      | `PairingCode`'s fields, base64url without padding   | 36…120         |
/// | `.`       |                                                     | 1              |
/// | signature | r ‖ s (64 bytes), base64url without padding         | 86             |
///
/// 131…215 characters from `A-Z a-z 0-9 - _ .`; anything longer than
/// ``maximumTextLength`` is refused before it is split.
extension Signed where Content == PairingCode {
    public static let textPrefix = "MTPAIR1."
    public static let maximumTextLength = 256

    /// The QR code's text.
    public var text: String {
        Self.textPrefix + Base64URL.encode(self.content.fieldBytes) + "." + Base64URL.encode(self.signature)
    }

    /// Parses a scanned code. Checks the length and form first, then the body's fields; the
    /// signature is not verified here (that takes the pump's certificate).
    public init(text: String) throws(TunnelProtocolError) {
        guard text.utf8.count <= Self.maximumTextLength else {
            throw TunnelProtocolError(
                .badLength,
                "a pairing code is at most \(Self.maximumTextLength) characters, not \(text.utf8.count)"
            )
        }
        guard text.hasPrefix(Self.textPrefix) else {
            throw TunnelProtocolError(.unsupportedVersion, "a pairing code starts with \(Self.textPrefix)")
        }
        let parts = text.dropFirst(Self.textPrefix.count).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw TunnelProtocolError(.invalidField, "a pairing code has a body and a signature after its prefix")
        }
        guard let body = Base64URL.decode(parts[0]), let signature = Base64URL.decode(parts[1]) else {
            throw TunnelProtocolError(.invalidField, "a pairing code's body or signature is not base64url")
        }
        guard signature.count == Self.signatureLength else {
            throw TunnelProtocolError(.badLength, "a pairing code's signature is 64 bytes, not \(signature.count)")
        }
        try self.init(PairingCode.decodeFields(body[...]), signature: signature)
    }
}
