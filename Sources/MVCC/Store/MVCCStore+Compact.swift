/// Compaction (etcd's kvstore_compaction.go, adapted to records ordered by key): the index
/// is compacted in bounded batches of keys, each under the lock on its own, and every
/// revision it drops becomes a pending deletion of its record and history entry, written by
/// the next commit. Reads at or above the compacted revision see the same answers before,
/// during and after the batches.
extension MVCCStore {
    /// Default number of keys one compaction batch visits.
    public static let compactionBatchKeys = 10_000

    /// etcd's Compact: makes `revision` the compacted revision and compacts in batches
    /// (other reads and writes interleave between batches).
    @discardableResult
    public func compact(_ revision: Int64, batchKeys: Int = compactionBatchKeys) throws -> CompactResponse {
        let current = try scheduleCompaction(revision)
        while try compactionStep(maxKeys: batchKeys) {}
        return CompactResponse(revision: current)
    }

    /// Validates and records a compaction at `revision` without doing the work; returns the
    /// current revision (the response header). Run `compactionStep` until it returns false.
    public func scheduleCompaction(_ revision: Int64) throws -> Int64 {
        try withState { s, _ in
            if revision <= s.compactedRevision { throw MVCCError.compacted }
            if revision > s.currentRevision { throw MVCCError.futureRevision }
            s.compactedRevision = revision
            s.compactionCursor = s.start
            s.pending.metaDirty = true
            return s.currentRevision
        }
    }

    /// Compacts up to `maxKeys` keys; returns whether work remains.
    @discardableResult
    public func compactionStep(maxKeys: Int = compactionBatchKeys) throws -> Bool {
        try withState { s, _ in s.compactionStep(maxKeys: maxKeys) }
    }
}

extension RangeState {
    /// One bounded batch of index compaction at `compactedRevision`.
    mutating func compactionStep(maxKeys: Int) -> Bool {
        guard let cursor = compactionCursor else { return false }
        let atRev = compactedRevision
        var removed: [Revision] = []
        var deletions: [([UInt8], Revision)] = []
        compactionCursor = index.mutate(from: cursor, limit: maxKeys) { ki in
            removed.removeAll(keepingCapacity: true)
            ki.compact(atRev: atRev, removed: &removed)
            for r in removed { deletions.append((ki.key, r)) }
            return ki.isEmpty
        }
        for (key, rev) in deletions {
            pending.records[RecordKey.make(key, rev)] = .delete
            pending.historyDeletes.append((rev, key))
        }
        return compactionCursor != nil
    }

    /// Finishes any compaction in progress (before split, merge or snapshot).
    mutating func finishCompaction() {
        while compactionStep(maxKeys: 100_000) {}
    }
}
