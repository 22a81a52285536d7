import Base

/// One replica's view of the Raft log: the stable part the application persisted (read
/// through `RaftStorage`) followed by the `UnstableLog`, plus the commit and apply
/// cursors. It enforces the log invariants; it never writes storage.
///
/// Invariant: `applied <= committed <= lastIndex`, and `firstIndex - 1 <= applied`.
struct RaftLog {
    /// Existential on purpose: keeps the core non-generic (compiled and optimized once,
    /// no generic metadata lookups on the hot path) at the cost of one indirect call.
    let storage: any RaftStorage
    var unstable: UnstableLog
    /// Highest index known to be committed (on a quorum's stable storage).
    var committed: UInt64
    /// Highest index the application has applied (confirmed through `advance`).
    var applied: UInt64
    /// Upper bound on the payload bytes of committed entries handed out in one Ready.
    let maxCommittedSizePerReady: UInt64

    init(storage: any RaftStorage, maxCommittedSizePerReady: UInt64 = .max) {
        self.storage = storage
        let first = storage.firstIndex()
        let last = storage.lastIndex()
        unstable = UnstableLog(offset: last + 1)
        committed = first - 1
        applied = first - 1
        self.maxCommittedSizePerReady = maxCommittedSizePerReady
    }

    var firstIndex: UInt64 { unstable.maybeFirstIndex ?? storage.firstIndex() }

    var lastIndex: UInt64 { unstable.maybeLastIndex ?? storage.lastIndex() }

    var lastTerm: UInt64 { termOrZero(lastIndex) }

    /// The term of the entry at `index`. Valid for `[firstIndex - 1, lastIndex]`.
    func term(_ index: UInt64) throws(StorageError) -> UInt64 {
        if let t = unstable.maybeTerm(index) { return t }
        if index + 1 < firstIndex { throw .compacted }
        if index > lastIndex { throw .unavailable }
        return try storage.term(index)
    }

    /// The term at `index`, or nil when it is compacted or not in the log. Never throws:
    /// hot paths probe indexes past the end routinely.
    func termIfAvailable(_ index: UInt64) -> UInt64? {
        if let t = unstable.maybeTerm(index) { return t }
        // Past the unstable entries is past the end; before them is storage's (or, with a
        // pending snapshot, compacted: maybeTerm answered for the snapshot's own index).
        if index >= unstable.offset || unstable.hasSnapshot { return nil }
        return try? storage.term(index)
    }

    /// The term at `index`, or 0 when it is compacted or not in the log.
    func termOrZero(_ index: UInt64) -> UInt64 { termIfAvailable(index) ?? 0 }

    func matchTerm(_ index: UInt64, _ term: UInt64) -> Bool { termIfAvailable(index) == term }

    /// Raft §5.4.1: a candidate's log `(lastIndex, lastTerm)` is at least as up to date.
    func isUpToDate(lastIndex candIndex: UInt64, term candTerm: UInt64) -> Bool {
        let lt = lastTerm
        return candTerm > lt || (candTerm == lt && candIndex >= lastIndex)
    }

    /// The index of the first entry of `entries` that is not in the log with the same
    /// term (a conflict, or the first new entry), or 0 if all are present.
    func findConflict(_ entries: [Entry]) -> UInt64 {
        for e in entries where !matchTerm(e.index, e.term) { return e.index }
        return 0
    }

    /// The largest index `<= index` whose term is `<= term` (with that term), used for
    /// fast backtracking of rejected appends. Stops at the first unavailable term.
    func findConflictByTerm(index: UInt64, term: UInt64) -> (index: UInt64, term: UInt64) {
        var i = index
        while true {
            guard let t = termIfAvailable(i) else { return (i, 0) }
            if t <= term { return (i, t) }
            if i == 0 { return (0, 0) }
            i -= 1
        }
    }

    /// Follower side of AppendEntries: if the entry at `index` has `logTerm`, appends the
    /// new part of `entries` (truncating a conflicting suffix), advances the commit
    /// index to `min(commit, last new index)` and returns the last new index.
    mutating func maybeAppend(index: UInt64, logTerm: UInt64, commit: UInt64, entries: [Entry]) -> UInt64? {
        guard matchTerm(index, logTerm) else { return nil }
        let lastNew = index + UInt64(entries.count)
        let conflict = findConflict(entries)
        if conflict != 0 {
            precondition(conflict > committed, "entry \(conflict) conflicts with committed entry (committed \(committed))")
            let start = Int(conflict - (index + 1))
            unstable.truncateAndAppend(entries[start...])
        }
        commitTo(min(commit, lastNew))
        return lastNew
    }

    /// Appends entries (contiguous, after the committed prefix); returns the last index.
    @discardableResult
    mutating func append(_ entries: ArraySlice<Entry>) -> UInt64 {
        guard let first = entries.first else { return lastIndex }
        precondition(first.index - 1 >= committed, "after(\(first.index - 1)) is out of range [committed(\(committed))]")
        unstable.truncateAndAppend(entries)
        return lastIndex
    }

    mutating func commitTo(_ index: UInt64) {
        guard index > committed else { return }
        precondition(index <= lastIndex, "commit index \(index) out of range [lastIndex(\(lastIndex))]")
        committed = index
    }

    /// Leader side: commit `index` if it is newer and its entry is of `term` (§5.4.2).
    mutating func maybeCommit(index: UInt64, term: UInt64) -> Bool {
        guard index > committed, termOrZero(index) == term else { return false }
        commitTo(index)
        return true
    }

    mutating func appliedTo(_ index: UInt64) {
        guard index != 0 else { return }
        precondition(index <= committed && index >= applied,
                     "applied(\(index)) is out of range [prevApplied(\(applied)), committed(\(committed))]")
        applied = index
    }

    mutating func stableTo(index: UInt64, term: UInt64) { unstable.stableTo(index: index, term: term) }

    mutating func stableSnapTo(index: UInt64) { unstable.stableSnapTo(index: index) }

    /// Replaces the log with a snapshot received from the leader.
    mutating func restore(_ snapshot: Snapshot) {
        committed = snapshot.metadata.index
        unstable.restore(snapshot)
    }

    var hasPendingSnapshot: Bool { unstable.hasSnapshot }

    func snapshot() throws(StorageError) -> Snapshot {
        if unstable.hasSnapshot, let s = unstable.snapshot { return s }
        return try storage.snapshot()
    }

    /// Entries from `index` to the end, limited to `maxBytes`.
    func entries(from index: UInt64, maxBytes: UInt64) throws(StorageError) -> [Entry] {
        if index > lastIndex { return [] }
        return try slice(index, lastIndex + 1, maxBytes: maxBytes)
    }

    /// Entries in `[lo, hi)` limited to `maxBytes` (at least one), from storage and/or the
    /// unstable part.
    func slice(_ lo: UInt64, _ hi: UInt64, maxBytes: UInt64) throws(StorageError) -> [Entry] {
        if lo < firstIndex { throw .compacted }
        if hi > lastIndex + 1 || lo > hi { throw .unavailable }
        if lo == hi { return [] }
        let offset = unstable.offset
        if hi <= offset {
            return try storage.entries(lo, hi, maxBytes: maxBytes)
        }
        if lo >= offset {
            return Array(limitSize(unstable.slice(lo, hi), maxBytes: maxBytes))
        }
        let stored = try storage.entries(lo, offset, maxBytes: maxBytes)
        if UInt64(stored.count) < offset - lo { return stored }
        var result = stored
        result.append(contentsOf: unstable.slice(offset, hi))
        return Array(limitSize(result[...], maxBytes: maxBytes))
    }

    /// Committed entries not yet applied, up to `maxCommittedSizePerReady`. Empty while a
    /// snapshot is pending (it must be applied first).
    func nextCommittedEntries() -> [Entry] {
        if hasPendingSnapshot { return [] }
        let lo = max(applied + 1, firstIndex)
        guard committed + 1 > lo else { return [] }
        do {
            return try slice(lo, committed + 1, maxBytes: maxCommittedSizePerReady)
        } catch {
            preconditionFailure("unexpected error reading committed entries [\(lo), \(committed + 1)): \(error)")
        }
    }

    var hasNextCommittedEntries: Bool {
        !hasPendingSnapshot && committed + 1 > max(applied + 1, firstIndex)
    }

    /// Every entry in the log (tests).
    func allEntries() -> [Entry] {
        (try? entries(from: firstIndex, maxBytes: .max)) ?? []
    }
}
