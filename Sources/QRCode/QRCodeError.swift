/// Why a QR symbol could not be made or written.
public struct QRCodeError: Error, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case tooLong = "too_long"
            case encodingFailed = "encoding_failed"
            case pngFailed = "png_failed"
            case writeFailed = "write_failed"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The text does not fit in the largest QR symbol at this error correction level.
        public static let tooLong = Code(.tooLong)
        /// libqrencode refused the text for another reason (memory).
        public static let encodingFailed = Code(.encodingFailed)
        /// libpng could not encode the image.
        public static let pngFailed = Code(.pngFailed)
        /// The PNG file could not be written durably.
        public static let writeFailed = Code(.writeFailed)

        public var description: String { self.base.rawValue }
    }

    public let code: Code
    public let reason: String
    public let file: String
    public let line: Int

    init(_ code: Code, _ reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    public static func == (lhs: QRCodeError, rhs: QRCodeError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.code) }
    public var description: String { "\(self.code): \(self.reason)" }
}
