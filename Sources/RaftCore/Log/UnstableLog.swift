/// The tail of a replica's log that the application has not yet persisted: entries
/// (and possibly an incoming snapshot) handed out in `Ready.entries` / `Ready.snapshot`
/// and dropped once `advance` confirms they are stable. It never reads storage.
struct UnstableLog {
    /// A snapshot received from the leader, not yet persisted.
    private(set) var snapshot: Snapshot? {
        didSet { hasSnapshot = snapshot != nil }
    }
    /// `snapshot != nil`, kept as a flag: the hot path asks often and the optional check
    /// of a large struct is not free.
    private(set) var hasSnapshot = false
    /// Invariant: `entries[i].index == offset + i`.
    var entries: [Entry] = []
    /// Index of `entries[0]` (or where the next entry goes when `entries` is empty).
    var offset: UInt64

    init(offset: UInt64) {
        self.offset = offset
    }

    /// The first index if a snapshot is pending (the log starts after it).
    var maybeFirstIndex: UInt64? {
        hasSnapshot ? snapshot!.metadata.index + 1 : nil
    }

    var maybeLastIndex: UInt64? {
        if !entries.isEmpty { return offset + UInt64(entries.count) - 1 }
        return hasSnapshot ? snapshot!.metadata.index : nil
    }

    func maybeTerm(_ index: UInt64) -> UInt64? {
        if index < offset {
            if hasSnapshot, let s = snapshot, s.metadata.index == index { return s.metadata.term }
            return nil
        }
        let position = index - offset
        if position >= UInt64(entries.count) {
            if hasSnapshot && entries.isEmpty, let s = snapshot, s.metadata.index == index { return s.metadata.term }
            return nil
        }
        return entries[Int(position)].term
    }

    /// The application persisted entries up to `(index, term)`: drop them, unless they
    /// were replaced by a conflicting append since the `Ready` was produced.
    mutating func stableTo(index: UInt64, term: UInt64) {
        guard index >= offset, let t = maybeTerm(index), t == term else { return }
        let count = Int(index - offset + 1)
        if count >= entries.count {
            entries.removeAll(keepingCapacity: true)
        } else {
            entries.removeFirst(count)
        }
        offset = index + 1
    }

    mutating func stableSnapTo(index: UInt64) {
        if hasSnapshot, let s = snapshot, s.metadata.index == index { snapshot = nil }
    }

    mutating func restore(_ s: Snapshot) {
        offset = s.metadata.index + 1
        entries.removeAll()
        snapshot = s
    }

    /// Appends `new` (contiguous, non-empty), truncating any unstable entries at or
    /// after `new[0].index`.
    mutating func truncateAndAppend(_ new: ArraySlice<Entry>) {
        guard let from = new.first?.index else { return }
        let end = offset + UInt64(entries.count)
        if from == end {
            entries.append(contentsOf: new)
        } else if from <= offset {
            // Replaces the whole unstable part (and whatever storage holds after `from`,
            // which the application truncates when it appends these).
            offset = from
            entries = Array(new)
        } else {
            entries.removeSubrange(Int(from - offset)...)
            entries.append(contentsOf: new)
        }
    }

    /// Entries in `[lo, hi)`; the range must lie within the unstable entries.
    func slice(_ lo: UInt64, _ hi: UInt64) -> ArraySlice<Entry> {
        precondition(lo >= offset && lo <= hi && hi <= offset + UInt64(entries.count),
                     "unstable.slice[\(lo),\(hi)) out of bound [\(offset),\(offset + UInt64(entries.count))]")
        return entries[Int(lo - offset)..<Int(hi - offset)]
    }
}
