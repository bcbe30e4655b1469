/// A dictionary of at most `capacity` entries that, when full, makes room for a new key by
/// evicting the least recently updated entry. Every operation is O(1): the entries live in an
/// array linked from newest to oldest by index, so eviction needs no scan.
struct RecencyTable<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Node: Sendable {
        var key: Key
        var value: Value
        /// The next newer and next older node's index, or `none`.
        var newer: Int
        var older: Int
    }

    private static var none: Int { -1 }

    let capacity: Int
    private var nodes: [Node] = []
    private var indexOfKey: [Key: Int] = [:]
    private var newest = Self.none
    private var oldest = Self.none

    init(capacity: Int) {
        precondition(capacity >= 1, "a recency table holds at least one entry, not \(capacity)")
        self.capacity = capacity
    }

    var count: Int { self.indexOfKey.count }

    /// The value for `key` (none yet: the default, evicting the least recently updated entry
    /// if the table is full), updated in place by `body`; the entry becomes the newest.
    mutating func update<Result>(
        _ key: Key,
        default makeValue: @autoclosure () -> Value,
        _ body: (inout Value) -> Result
    ) -> Result {
        let index: Int
        if let existing = self.indexOfKey[key] {
            index = existing
            self.unlink(index)
        } else if self.nodes.count < self.capacity {
            index = self.nodes.count
            self.nodes.append(Node(key: key, value: makeValue(), newer: Self.none, older: Self.none))
            self.indexOfKey[key] = index
        } else {
            index = self.oldest
            self.unlink(index)
            self.indexOfKey[self.nodes[index].key] = nil
            self.nodes[index].key = key
            self.nodes[index].value = makeValue()
            self.indexOfKey[key] = index
        }
        self.linkAsNewest(index)
        return body(&self.nodes[index].value)
    }

    /// The value for `key`, without changing its recency.
    subscript(key: Key) -> Value? {
        self.indexOfKey[key].map { self.nodes[$0].value }
    }

    private mutating func unlink(_ index: Int) {
        let node = self.nodes[index]
        if node.newer == Self.none { self.newest = node.older } else { self.nodes[node.newer].older = node.older }
        if node.older == Self.none { self.oldest = node.newer } else { self.nodes[node.older].newer = node.newer }
        self.nodes[index].newer = Self.none
        self.nodes[index].older = Self.none
    }

    private mutating func linkAsNewest(_ index: Int) {
        self.nodes[index].older = self.newest
        self.nodes[index].newer = Self.none
        if self.newest != Self.none { self.nodes[self.newest].newer = index }
        self.newest = index
        if self.oldest == Self.none { self.oldest = index }
    }
}
