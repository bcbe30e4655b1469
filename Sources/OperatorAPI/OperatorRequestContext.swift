public import Foundation
public import Hummingbird

/// The API's request context: like Hummingbird's basic one, with JSON written with sorted
/// keys and unescaped slashes, so that answers are stable and readable.
public struct OperatorRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage

    public init(source: Source) {
        self.coreContext = .init(source: source)
    }

    public var responseEncoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
