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
    ///
    /// `aboveCurrent` is the cluster form: a compaction at a global revision reaches every
    /// range, most of which never saw a write at that revision. It is then allowed above the
    /// range's current revision: the range compacts up to its current state and records
    /// `revision` as compacted (reads at explicit revisions below it fail, the latest state
    /// stays readable, later writes below it are kept until the next compaction).
    @discardableResult
    public func compact(
        _ revision: Int64, aboveCurrent: Bool = false, batchKeys: Int = compactionBatchKeys
    ) throws -> CompactResponse {
        let current = try scheduleCompaction(revision, aboveCurrent: aboveCurrent)
        while try compactionStep(maxKeys: batchKeys) {}
        return CompactResponse(revision: current)
    }

    /// Validates and records a compaction at `revision` without doing the work; returns the
    /// current revision (the response header). Run `compactionStep` until it returns false.
    /// `aboveCurrent` as in `compact`.
    public func scheduleCompaction(_ revision: Int64, aboveCurrent: Bool = false) throws -> Int64 {
        try withState { s, _ in
            if revision <= s.compactedRevision { throw MVCCError.compacted }
            if revision > s.currentRevision && !aboveCurrent { throw MVCCError.futureRevision }
            s.compactedRevision = revision
            s.planCompaction()
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
    /// Decides which keys the compaction at `compactedRevision` visits: the keys written
    /// since the previous compaction was scheduled, the keys it left with more than one
    /// revision, whatever it had not visited yet — or every key when that is not known.
    mutating func planCompaction() {
        if case .allFrom = compaction { touchedAll = true }
        if touchedAll {
            compaction = .allFrom(start)
        } else {
            var keys = touched
            if case .keys(let rest, let next) = compaction { keys.formUnion(rest[next...]) }
            compaction = .keys(keys.sorted(by: Bytes.less), next: 0)
        }
        touched.removeAll()
        touchedAll = false
    }

    /// One bounded batch of index compaction at `compactedRevision`.
    mutating func compactionStep(maxKeys: Int) -> Bool {
        guard let work = compaction else { return false }
        let atRev = compactedRevision
        var removed: [Revision] = []
        var deletions: [([UInt8], Revision)] = []
        var carried: [[UInt8]] = []
        func compactKey(_ ki: inout KeyIndex) -> Bool {
            removed.removeAll(keepingCapacity: true)
            ki.compact(atRev: atRev, removed: &removed)
            for r in removed { deletions.append((ki.key, r)) }
            // A key left with more than its single live revision (newer revisions, or a
            // tombstone) has work for a later compaction even if it is never written again.
            if !ki.isEmpty && !(ki.generations.count == 1 && ki.generations[0].revisions.count == 1) {
                carried.append(ki.key)
            }
            return ki.isEmpty
        }
        switch work {
        case .allFrom(let cursor):
            compaction = index.mutate(from: cursor, limit: maxKeys, compactKey).map { .allFrom($0) }
        case .keys(let keys, let next):
            let end = min(keys.count, next + maxKeys)
            for key in keys[next..<end] where index.modify(key, compactKey) == true {
                index.remove(key)
            }
            compaction = end < keys.count ? .keys(keys, next: end) : nil
        }
        for (key, rev) in deletions {
            pending.records[RecordKey.make(key, rev)] = .delete
            pending.historyDeletes.append((rev, key))
        }
        if !touchedAll { touched.formUnion(carried) }
        return compaction != nil
    }

    /// Finishes any compaction in progress (before split, merge or snapshot).
    mutating func finishCompaction() {
        while compactionStep(maxKeys: 100_000) {}
    }
}
