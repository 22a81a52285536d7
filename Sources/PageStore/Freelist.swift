/// Free page bookkeeping (owned by the single writer). `free` pages can be allocated now;
/// `pending` pages were freed by a commit but may still be visible to a read transaction on
/// an older snapshot, so they wait until the oldest open reader has caught up.
///
/// Invariant: `free` is sorted ascending and disjoint from every pending list.
struct Freelist {
    private(set) var free: [PageID] = []
    /// Pages freed by commit `txid`; visible to readers of snapshots older than `txid`.
    private(set) var pending: [(txid: UInt64, pages: [PageID])] = []

    init(free: [PageID] = []) { self.free = free }

    var freeCount: Int { free.count }
    var pendingCount: Int { pending.reduce(0) { $0 + $1.pages.count } }

    /// Moves pending pages of commits `txid ≤ oldestReader` into `free` (no open reader can
    /// see them any more). `oldestReader` is the smallest snapshot txid still being read.
    mutating func release(oldestReader: UInt64) {
        var released: [PageID] = []
        pending.removeAll { entry in
            guard entry.txid <= oldestReader else { return false }
            released.append(contentsOf: entry.pages)
            return true
        }
        guard !released.isEmpty else { return }
        released.sort()
        free = Self.merge(free, released)
    }

    /// Records pages freed by commit `txid` (`pages` need not be sorted).
    mutating func addPending(txid: UInt64, pages: [PageID]) {
        guard !pages.isEmpty else { return }
        pending.append((txid, pages))
    }

    /// Allocates `n` contiguous free pages, or nil if no run is long enough.
    mutating func allocate(_ n: Int) -> PageID? {
        guard !free.isEmpty else { return nil }
        if n == 1 { return free.removeLast() }
        var runStart = 0
        for i in 0..<free.count {
            if i > 0 && free[i] != free[i - 1] + 1 { runStart = i }
            if i - runStart + 1 == n {
                let first = free[runStart]
                free.removeSubrange(runStart...i)
                return first
            }
        }
        return nil
    }

    /// Every page that will be free after a restart (free, pending and `extra`), as sorted
    /// `(first, count)` extents.
    func extents(adding extra: [PageID]) -> [(PageID, UInt64)] {
        var all = free
        for p in pending { all.append(contentsOf: p.pages) }
        all.append(contentsOf: extra)
        all.sort()
        var out: [(PageID, UInt64)] = []
        for id in all {
            if let last = out.last, last.0 + last.1 == id { out[out.count - 1].1 += 1 } else { out.append((id, 1)) }
        }
        return out
    }

    static func merge(_ a: [PageID], _ b: [PageID]) -> [PageID] {
        var out: [PageID] = []
        out.reserveCapacity(a.count + b.count)
        var i = 0, j = 0
        while i < a.count && j < b.count {
            if a[i] < b[j] { out.append(a[i]); i += 1 } else { out.append(b[j]); j += 1 }
        }
        out.append(contentsOf: a[i...])
        out.append(contentsOf: b[j...])
        return out
    }

    // MARK: on-disk form (a freelist page run: u64 extent count, then u64 first, u64 count each)

    static func encodedSize(extents: Int) -> Int { PageLayout.headerSize + 8 + extents * 16 }

    static func decode(_ p: PageRef, id: PageID, pageCount: UInt64, pageSize: Int) throws(PageStoreError) -> [PageID] {
        guard p.rawType == PageType.freelist.rawValue else {
            throw .corruptPage(id, reason: "expected a freelist page, found type \(p.rawType)")
        }
        let n = Int(p.u64(PageLayout.headerSize))
        guard encodedSize(extents: n) <= p.length else {
            throw .corruptPage(id, reason: "freelist extent count \(n) does not fit its run")
        }
        var out: [PageID] = []
        for i in 0..<n {
            let first = p.u64(PageLayout.headerSize + 8 + i * 16)
            let count = p.u64(PageLayout.headerSize + 16 + i * 16)
            guard first >= 2, count > 0, first + count <= pageCount, out.last.map({ $0 < first }) ?? true else {
                throw .corruptPage(id, reason: "freelist extent \(first)+\(count) out of order or range")
            }
            for k in 0..<count { out.append(first + k) }
        }
        return out
    }
}
