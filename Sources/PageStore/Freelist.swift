/// A run of consecutive free pages.
struct FreeExtent: Equatable {
    var start: PageID
    var count: UInt64
    var end: PageID { start + count }
}

/// Free page bookkeeping (owned by the single writer). `extents` can be allocated now;
/// `pending` pages were freed by a commit but may still be visible to a read transaction on
/// an older snapshot, so they wait until the oldest open reader has caught up.
///
/// Invariants between commits: `extents` is sorted by `start`, non-empty, non-overlapping and
/// coalesced (no two touch), `freeCount` is the sum of their counts, and no pending page lies
/// in an extent. During a commit `PageAllocator` may empty extents in place (`count` 0);
/// `compact()` restores the invariants.
struct Freelist {
    private(set) var extents: [FreeExtent] = []
    private(set) var freeCount = 0
    /// Pages freed by commit `txid`; visible to readers of snapshots older than `txid`.
    private(set) var pending: [(txid: UInt64, pages: [PageID])] = []

    init(extents: [FreeExtent] = []) {
        self.extents = extents
        freeCount = extents.reduce(0) { $0 + Int($1.count) }
    }

    var pendingCount: Int { pending.reduce(0) { $0 + $1.pages.count } }

    /// Moves pending pages of commits `txid ≤ oldestReader` into the free extents (no open
    /// reader can see them any more). `oldestReader` is the smallest snapshot txid still read.
    mutating func release(oldestReader: UInt64) {
        var released: [PageID] = []
        pending.removeAll { entry in
            guard entry.txid <= oldestReader else { return false }
            released.append(contentsOf: entry.pages)
            return true
        }
        guard !released.isEmpty else { return }
        released.sort()
        extents = Self.merge(extents, pages: released)
        freeCount += released.count
    }

    /// Records pages freed by commit `txid` (`pages` need not be sorted).
    mutating func addPending(txid: UInt64, pages: [PageID]) {
        guard !pages.isEmpty else { return }
        pending.append((txid, pages))
    }

    /// Takes `n` pages from the start of extent `i` (which must hold at least `n`).
    mutating func take(_ n: UInt64, fromExtent i: Int) -> PageID {
        precondition(extents[i].count >= n, "extent too short")
        let first = extents[i].start
        extents[i].start += n
        extents[i].count -= n
        freeCount -= Int(n)
        return first
    }

    /// Best fit for a run of `n` contiguous pages: the first page of the shortest extent
    /// holding at least `n` (the lowest such on ties), or nil if none does.
    mutating func allocateBestFit(_ n: Int) -> PageID? {
        let need = UInt64(n)
        var best = -1
        for i in extents.indices where extents[i].count >= need {
            if best < 0 || extents[i].count < extents[best].count { best = i }
            if extents[i].count == need { break }
        }
        return best < 0 ? nil : take(need, fromExtent: best)
    }

    /// Returns `count` pages starting at `start` (taken during this commit and not used) to
    /// the free pool; `compact()` merges them back.
    mutating func giveBack(start: PageID, count: UInt64) {
        guard count > 0 else { return }
        extents.append(FreeExtent(start: start, count: count))
        freeCount += Int(count)
    }

    /// Restores the invariants after a commit's allocations: drops emptied extents, sorts
    /// and coalesces.
    mutating func compact() {
        extents.removeAll { $0.count == 0 }
        if !zip(extents, extents.dropFirst()).allSatisfy({ $0.start < $1.start }) { extents.sort { $0.start < $1.start } }
        var out: [FreeExtent] = []
        out.reserveCapacity(extents.count)
        for e in extents {
            if let last = out.last, last.end == e.start { out[out.count - 1].count += e.count } else { out.append(e) }
        }
        extents = out
    }

    /// Every page that will be free after a restart (free, pending and `extra`), as sorted,
    /// coalesced extents. Requires `extents` sorted (call `compact()` first during a commit;
    /// extents emptied since are skipped).
    func extents(adding extra: [PageID]) -> [FreeExtent] {
        var all: [PageID] = extra
        for p in pending { all.append(contentsOf: p.pages) }
        all.sort()
        return Self.merge(extents, pages: all)
    }

    /// Merges sorted `pages` (disjoint from `extents`) into sorted coalesced `extents`.
    static func merge(_ extents: [FreeExtent], pages: [PageID]) -> [FreeExtent] {
        var out: [FreeExtent] = []
        out.reserveCapacity(extents.count + pages.count)
        var j = 0
        var i = 0
        while i < extents.count || j < pages.count {
            if i < extents.count && extents[i].count == 0 { i += 1; continue }  // emptied by a commit's allocation
            let e: FreeExtent
            if j < pages.count && (i == extents.count || pages[j] < extents[i].start) {
                e = FreeExtent(start: pages[j], count: 1)
                j += 1
            } else {
                e = extents[i]
                i += 1
            }
            if let last = out.last, last.start + last.count == e.start {
                out[out.count - 1].count += e.count
            } else {
                out.append(e)
            }
        }
        return out
    }

    // MARK: on-disk form (a freelist page run: u64 extent count, then u64 first, u64 count each)

    static func encodedSize(extents: Int) -> Int { PageLayout.headerSize + 8 + extents * 16 }

    /// Decodes a freelist run into sorted, coalesced extents (touching extents written by
    /// older code are merged).
    static func decode(_ p: PageRef, id: PageID, pageCount: UInt64, pageSize: Int) throws(PageStoreError) -> [FreeExtent] {
        guard p.rawType == PageType.freelist.rawValue else {
            throw .corruptPage(id, reason: "expected a freelist page, found type \(p.rawType)")
        }
        let raw = p.u64(PageLayout.headerSize)
        guard raw <= UInt64(p.length), encodedSize(extents: Int(raw)) <= p.length else {
            throw .corruptPage(id, reason: "freelist extent count \(raw) does not fit its run")
        }
        let n = Int(raw)
        var out: [FreeExtent] = []
        out.reserveCapacity(n)
        for i in 0..<n {
            let first = p.u64(PageLayout.headerSize + 8 + i * 16)
            let count = p.u64(PageLayout.headerSize + 16 + i * 16)
            guard first >= 2, count > 0, first <= pageCount, count <= pageCount - first,
                  out.last.map({ $0.end <= first }) ?? true else {
                throw .corruptPage(id, reason: "freelist extent \(first)+\(count) out of order or range")
            }
            if let last = out.last, last.end == first { out[out.count - 1].count += count } else { out.append(FreeExtent(start: first, count: count)) }
        }
        return out
    }
}
