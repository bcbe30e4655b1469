public import NIOHPACK

/// The life of one pump-link stream, on either end. Pure: the handler executes the actions.
///
/// Relay end: `idle` → (active: send the request) → `awaitingResponse` → (`:status 200`) →
/// `open`. Gateway end: `awaitingRequest` → (a pump-link request: send 200) → `open`.
/// Either end: END_STREAM, RST_STREAM, or any frame out of place → `closed`.
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
        if endStream { self.state = .closed }
        return .deliver(endStream: endStream)
    }

    /// Whether bytes may be written now. The relay may send right after its request.
    public var canWrite: Bool {
        switch self.state {
        case .open: return true
        case .awaitingResponse: return true
        case .idle, .awaitingRequest, .closed: return false
        }
    }

    public mutating func closed() { self.state = .closed }
}
