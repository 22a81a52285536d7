import Base

/// Every member's `Progress`, keyed by replica ID and kept sorted by ID so that visits
/// are deterministic. Values are mutated in place (`values[i]`) to avoid copying the
/// inflight buffers.
struct ProgressMap: Equatable {
    private(set) var ids: [ReplicaID] = []
    var values: [Progress] = []

    var count: Int { ids.count }

    func index(of id: ReplicaID) -> Int? {
        for i in ids.indices where ids[i] == id { return i }
        return nil
    }

    subscript(id: ReplicaID) -> Progress? {
        guard let i = index(of: id) else { return nil }
        return values[i]
    }

    func contains(_ id: ReplicaID) -> Bool { index(of: id) != nil }

    mutating func insert(_ id: ReplicaID, _ progress: Progress) {
        if let i = index(of: id) {
            values[i] = progress
            return
        }
        var i = 0
        while i < ids.count && ids[i] < id { i += 1 }
        ids.insert(id, at: i)
        values.insert(progress, at: i)
    }

    @discardableResult
    mutating func remove(_ id: ReplicaID) -> Progress? {
        guard let i = index(of: id) else { return nil }
        ids.remove(at: i)
        return values.remove(at: i)
    }
}
