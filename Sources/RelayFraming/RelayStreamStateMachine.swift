public import NIOHPACK

/// The life of one pump-link stream, on either end. Pure: the handler executes the actions.
///
/// Relay end: `idle` → (active: send the request) → `awaitingResponse` → (`:status 200`) →
/// `open`. Gateway end: `awaitingRequest` → (a pump-link request: send 200) → `open`.
/// Either end: END_STREAM, RST_STREAM, or any frame out of place → `closed`.
///
/// Ending is per direction: an end that is done sends END_STREAM (``endOwnSide()``), and the
/// stream is finished once both ends have (``isFinished``), with no RST_STREAM; a reset is for
/// failures only. (HTTP/2 peers count resets against a rate limit; a phone that ended every
/// pump link with one would lose its uplink after a couple of hundred links.)
public struct RelayStreamStateMachine: Sendable {
    public enum Role: Sendable, Equatable {
        /// The phone's end: opens the stream.
        case relay(authority: String)
        /// The gateway's end: accepts it.
        case gateway
    }

    enum State: Sendable, Equatable {
        case idle
        case awaitingResponse
        case awaitingRequest
        case open
        case closed
    }

    public enum HeadersAction: Sendable, Equatable {
        case none
        case send(HPACKHeaders)
        /// Answer with these headers and END_STREAM, then close with the error.
        case refuse(HPACKHeaders, RelayFramingError)
        case close(RelayFramingError?)
    }

    public enum DataAction: Sendable, Equatable {
        case deliver(endStream: Bool)
        /// This end already closed the stream; what the peer sent meanwhile goes nowhere.
        case ignore
        case close(RelayFramingError)
    }

    private(set) var state: State
    public let role: Role
    /// This end sent END_STREAM: it writes nothing more.
    public private(set) var sentEnd = false
    /// The peer sent END_STREAM (a clean end of its direction, not a refusal or error).
    public private(set) var peerEnded = false

    public init(role: Role) {
        self.role = role
        switch role {
        case .relay: self.state = .idle
        case .gateway: self.state = .awaitingRequest
        }
    }

    /// The stream channel became active.
    public mutating func activated() -> HeadersAction {
        guard case .relay(let authority) = self.role, self.state == .idle else { return .none }
        self.state = .awaitingResponse
        return .send(RelayWireFormat.request(authority: authority))
    }

    public mutating func headersReceived(_ headers: HPACKHeaders, endStream: Bool) -> HeadersAction {
        switch (self.role, self.state) {
        case (.gateway, .awaitingRequest):
            if let problem = RelayWireFormat.requestProblem(headers) {
                self.state = .closed
                return .refuse(RelayWireFormat.notFound, RelayFramingError(.notAPumpLink, problem))
            }
            if endStream {
                self.state = .closed
                return .close(nil)
            }
            self.state = .open
            return .send(RelayWireFormat.accepted)
        case (.relay, .awaitingResponse):
            let status = headers.first(name: ":status") ?? ""
            guard status == "200" else {
                self.state = .closed
                return .close(
                    RelayFramingError(.refusedByGateway, "the gateway answered the pump link with status '\(status)'")
                )
            }
            self.state = endStream ? .closed : .open
            self.peerEnded = endStream
            return endStream ? .close(nil) : .none
        case (_, .closed):
            return .none
        default:
            self.state = .closed
            return .close(RelayFramingError(.unexpectedFrame, "HEADERS in state \(self.state)"))
        }
    }

    public mutating func dataReceived(endStream: Bool) -> DataAction {
        if self.state == .closed { return .ignore }
        guard self.state == .open else {
            let state = self.state
            self.state = .closed
            return .close(RelayFramingError(.unexpectedFrame, "DATA in state \(state)"))
        }
        if endStream {
            self.state = .closed
            self.peerEnded = true
        }
        return .deliver(endStream: endStream)
    }

    /// Whether bytes may be written now. The relay may send right after its request.
    public var canWrite: Bool {
        if self.sentEnd { return false }
        switch self.state {
        case .open: return true
        case .awaitingResponse: return true
        case .idle, .awaitingRequest, .closed: return false
        }
    }

    /// This end is done writing: true when it should send END_STREAM now (its direction was
    /// open, or the peer ended cleanly and is owed the end of this one); false after a failure
    /// or a second time.
    public mutating func endOwnSide() -> Bool {
        guard !self.sentEnd, self.canWrite || (self.state == .closed && self.peerEnded) else { return false }
        self.sentEnd = true
        return true
    }

    /// Both directions ended cleanly: HTTP/2 closes the stream without a reset.
    public var isFinished: Bool { self.sentEnd && self.peerEnded }

    public mutating func closed() { self.state = .closed }
}
