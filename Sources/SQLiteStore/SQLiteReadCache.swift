/// Values read from a database through one connection, kept until the database may have
/// changed under them: the cache empties itself when another connection, of this process or
/// any other, has committed since it was filled (`PRAGMA data_version`), and, with
/// `ownWrites: .emptyTheCache`, when this connection has written (its total change count).
/// A store whose own writes are frequent and whose cached rows it knows it is changing keeps
/// `ownWrites: .caller` and calls `remove(_:)` itself. Past `capacity` keys it starts over.
/// (nil is cached too: "no such row" is an answer.)
public struct SQLiteReadCache<Key: Hashable, Value> {
    public enum OwnWrites {
        /// Any write of this connection empties the cache.
        case emptyTheCache
        /// The caller removes what its writes change.
        case caller
    }

    private struct Version: Equatable {
        let dataVersion: Int64
        let ownChanges: Int64?
    }

    private var values: [Key: Value?] = [:]
    private var version: Version?
    private let ownWrites: OwnWrites
    private let capacity: Int

    public init(ownWrites: OwnWrites, capacity: Int) {
        self.ownWrites = ownWrites
        self.capacity = capacity
    }

    /// The value of `key`: cached, or read with `read` (on the same connection) and kept.
    public mutating func value(
        of key: Key,
        on connection: SQLiteConnection,
        read: () throws -> Value?
    ) throws -> Value? {
        let current = Version(
            dataVersion: try connection.dataVersion(),
            ownChanges: self.ownWrites == .emptyTheCache ? connection.totalChanges : nil
        )
        if current != self.version || self.values.count >= self.capacity {
            self.values.removeAll(keepingCapacity: true)
            self.version = current
        }
        if let cached = self.values[key] { return cached }
        let value = try read()
        self.values[key] = .some(value)
        return value
    }

    public mutating func remove(_ key: Key) {
        self.values[key] = nil
    }

    public mutating func removeAll() {
        self.values.removeAll()
    }
}
