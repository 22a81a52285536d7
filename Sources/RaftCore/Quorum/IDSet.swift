import Base

/// A small set of replica IDs kept sorted, so that iteration (and hence the order of
/// messages a replica emits) is deterministic — Swift's `Set` iterates in a per-process
/// random order. Groups have a handful of members, so linear scans beat hashing.
struct IDSet: Equatable, Sequence, ExpressibleByArrayLiteral, CustomStringConvertible {
    private(set) var ids: [ReplicaID] = []

    init() {}
    init<S: Sequence>(_ ids: S) where S.Element == ReplicaID {
        for id in ids { insert(id) }
    }
    init(arrayLiteral elements: ReplicaID...) { self.init(elements) }

    var count: Int { ids.count }
    var isEmpty: Bool { ids.isEmpty }

    func contains(_ id: ReplicaID) -> Bool { ids.contains(id) }

    mutating func insert(_ id: ReplicaID) {
        var i = 0
        while i < ids.count && ids[i] < id { i += 1 }
        if i < ids.count && ids[i] == id { return }
        ids.insert(id, at: i)
    }

    mutating func remove(_ id: ReplicaID) {
        if let i = ids.firstIndex(of: id) { ids.remove(at: i) }
    }

    func union(_ other: IDSet) -> IDSet {
        var result = self
        for id in other { result.insert(id) }
        return result
    }

    func makeIterator() -> IndexingIterator<[ReplicaID]> { ids.makeIterator() }

    var description: String { "(" + ids.map(String.init).joined(separator: " ") + ")" }
}
