import Synchronization

/// What the gateway knows about one phone relay.
public struct PhoneStatus: Sendable, Equatable {
    public let id: String
    /// Uplinks open now (normally 0 or 1; briefly 2 while a phone reconnects).
    public var uplinks: Int
    public var uplinksTotal: Int
    /// Pump streams open now, over all its uplinks.
    public var streamsOpen: Int
    public var streamsTotal: Int
    /// Pump ciphertext the phone carried to the gateway and back.
    public var bytesFromPhone: Int
    public var bytesToPhone: Int
    public var lastSeenMilliseconds: Int64
    /// The address of the last uplink.
    public var remote: String?

    public var connected: Bool { self.uplinks > 0 }
}

/// Traffic on one phone uplink, updated by its streams' handlers on the uplink's event loop
/// and read by the API from anywhere.
public final class UplinkTraffic: Sendable {
    let streamsOpen = Atomic<Int>(0)
    let streamsTotal = Atomic<Int>(0)
    let bytesFromPhone = Atomic<Int>(0)
    let bytesToPhone = Atomic<Int>(0)

    public init() {}

    public func streamOpened() {
        self.streamsOpen.add(1, ordering: .relaxed)
        self.streamsTotal.add(1, ordering: .relaxed)
    }
    public func streamClosed() { self.streamsOpen.subtract(1, ordering: .relaxed) }
    public func carried(fromPhone: Int) { self.bytesFromPhone.add(fromPhone, ordering: .relaxed) }
    public func carried(toPhone: Int) { self.bytesToPhone.add(toPhone, ordering: .relaxed) }
    public var openStreams: Int { self.streamsOpen.load(ordering: .relaxed) }
}

/// The phone relays connected to the gateway (by phone id), their uplinks and traffic.
public final class PhoneRegistry: Sendable {
    private struct Uplink {
        let phone: String
        let traffic: UplinkTraffic
        let close: @Sendable () -> Void
    }
    private struct State {
        var nextUplink = 1
        var uplinks: [Int: Uplink] = [:]
        /// Per phone: totals of ended uplinks, last seen, last address.
        var phones: [String: PhoneStatus] = [:]
        /// Phones shut out (a phone lockout or a revoked certificate): their uplinks are closed
        /// and new ones refused.
        var shutOut: [String: String] = [:]
    }
    private let state = Mutex(State())

    public init() {}

    /// Records an authenticated uplink of `phone`; returns its number (for ``uplinkEnded``)
    /// and the counters its streams update.
    public func uplinkStarted(
        phone: String,
        remote: String,
        now: Int64,
        close: @escaping @Sendable () -> Void
    ) -> (number: Int, traffic: UplinkTraffic) {
        let traffic = UplinkTraffic()
        return self.state.withLock { state in
            let number = state.nextUplink
            state.nextUplink += 1
            state.uplinks[number] = Uplink(phone: phone, traffic: traffic, close: close)
            var status =
                state.phones[phone]
                ?? PhoneStatus(
                    id: phone,
                    uplinks: 0,
                    uplinksTotal: 0,
                    streamsOpen: 0,
                    streamsTotal: 0,
                    bytesFromPhone: 0,
                    bytesToPhone: 0,
                    lastSeenMilliseconds: now
                )
            status.uplinksTotal += 1
            status.lastSeenMilliseconds = now
            status.remote = remote
            state.phones[phone] = status
            return (number, traffic)
        }
    }

    public func uplinkEnded(_ number: Int, now: Int64) {
        self.state.withLock { state in
            guard let uplink = state.uplinks.removeValue(forKey: number) else { return }
            guard var status = state.phones[uplink.phone] else { return }
            status.streamsTotal += uplink.traffic.streamsTotal.load(ordering: .relaxed)
            status.bytesFromPhone += uplink.traffic.bytesFromPhone.load(ordering: .relaxed)
            status.bytesToPhone += uplink.traffic.bytesToPhone.load(ordering: .relaxed)
            status.lastSeenMilliseconds = now
            state.phones[uplink.phone] = status
        }
    }

    /// Every phone seen since the gateway started, with live uplinks' traffic added in.
    public var phones: [PhoneStatus] {
        self.state.withLock { state in
            var phones = state.phones
            for uplink in state.uplinks.values {
                guard var status = phones[uplink.phone] else { continue }
                let traffic = uplink.traffic
                status.uplinks += 1
                status.streamsOpen += traffic.streamsOpen.load(ordering: .relaxed)
                status.streamsTotal += traffic.streamsTotal.load(ordering: .relaxed)
                status.bytesFromPhone += traffic.bytesFromPhone.load(ordering: .relaxed)
                status.bytesToPhone += traffic.bytesToPhone.load(ordering: .relaxed)
                phones[uplink.phone] = status
            }
            return phones.values.sorted { $0.id < $1.id }
        }
    }

    public func phone(_ id: String) -> PhoneStatus? { self.phones.first { $0.id == id } }

    /// Shuts `phones` out for `reason` (replacing the phones shut out for that reason before):
    /// their live uplinks are closed now; returns how many were closed.
    @discardableResult
    public func shutOut(_ phones: Set<String>, reason: String) -> Int {
        let closers = self.state.withLock { state in
            state.shutOut = state.shutOut.filter { $0.value != reason }
            for phone in phones where state.shutOut[phone] == nil { state.shutOut[phone] = reason }
            return state.uplinks.values.filter { phones.contains($0.phone) }.map(\.close)
        }
        for close in closers { close() }
        return closers.count
    }

    /// Why `phone` is shut out, or nil if it may connect.
    public func shutOutReason(_ phone: String) -> String? { self.state.withLock { $0.shutOut[phone] } }

    /// Closes every uplink (graceful shutdown); returns how many there were.
    @discardableResult
    public func closeAllUplinks() -> Int {
        let closers = self.state.withLock { state in state.uplinks.values.map(\.close) }
        for close in closers { close() }
        return closers.count
    }

    public var openUplinkCount: Int { self.state.withLock { $0.uplinks.count } }
}
