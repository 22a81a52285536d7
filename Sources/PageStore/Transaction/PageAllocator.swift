/// Page allocation during one commit (owned by the commit; written back to the file's
/// `Freelist` only when the commit succeeds).
///
/// Single pages (tree nodes, the bulk of a commit) are handed out **in runs**: the allocator
/// takes a whole free extent, hands out its pages in order, and only then takes the next one,
/// longest extents first; once no extent of at least `minRun` pages is left it extends the
/// file's tail (contiguous too) — unless more than `slackPages` pages are still free, in which
/// case it fills the shorter holes (longest first) so that the file stays bounded by live
/// data plus about `slackPages`. A commit's pages therefore form few contiguous runs, and
/// the kernel writes back one bio per run instead of one per page (docs/pagestore-format.md,
/// "Allocation"). Multi-page runs (blobs, the freelist) take the best-fitting extent.
struct PageAllocator {
    var freelist: Freelist
    var pageCount: UInt64
    /// Free pages the file may keep before the allocator fills holes shorter than `minRun`.
    let slackPages: Int
    /// Holes shorter than this are filled only while more than `slackPages` pages are free.
    static let minRun: UInt64 = 8

    /// Pages set aside at the start of the commit for its freelist run (`reserveRun`).
    private(set) var reserved: (start: PageID, count: Int)?

    /// The extent being handed out: `[cursor, cursorEnd)`.
    private var cursor: PageID = 0
    private var cursorEnd: PageID = 0
    /// Single pages come from the tail for the rest of the commit.
    private var atTail = false
    /// Extent indices in the order they are taken (built at the first single-page allocation).
    private var order: [Int32]?
    private var next = 0

    /// - Parameter slackPercent: the share of `pageCount` that may stay free (0 fills every
    ///   hole before growing the file, still longest first).
    init(freelist: Freelist, pageCount: UInt64, slackPercent: Int) {
        self.freelist = freelist
        self.pageCount = pageCount
        slackPages = Int(pageCount) * max(0, slackPercent) / 100
    }

    /// Allocates `n` contiguous pages: single pages from the current run, longer runs best-fit.
    mutating func allocate(_ n: Int) -> PageID {
        n == 1 ? allocatePage() : allocateRun(n)
    }

    /// `n` contiguous pages from the best-fitting free extent, else from the tail.
    mutating func allocateRun(_ n: Int) -> PageID {
        if let id = freelist.allocateBestFit(n) { return id }
        let id = pageCount
        pageCount += UInt64(n)
        return id
    }

    /// Sets aside the best-fitting run of `n` free pages (none if no extent holds `n`) before
    /// single pages are handed out, for the commit's freelist run: a large freelist needs a
    /// long contiguous run, and the longest-first single-page allocation would otherwise use
    /// up the runs it fits in (the previous freelist runs, freed every commit), sending every
    /// freelist run to the file's tail.
    mutating func reserveRun(_ n: Int) {
        if let id = freelist.allocateBestFit(n) { reserved = (id, n) }
    }

    /// The reserved run, if any (the caller uses it or gives it back).
    mutating func takeReserved() -> (start: PageID, count: Int)? {
        defer { reserved = nil }
        return reserved
    }

    /// The next page of the current run, taking the next extent (or the tail) when it is used up.
    mutating func allocatePage() -> PageID {
        if cursor < cursorEnd {
            defer { cursor += 1 }
            return cursor
        }
        if !atTail, let i = nextExtent() {
            let count = freelist.extents[i].count
            let start = freelist.take(count, fromExtent: i)
            cursor = start + 1
            cursorEnd = start + count
            return start
        }
        atTail = true
        defer { pageCount += 1 }
        return pageCount
    }

    /// Returns the unused rest of the current run and restores the freelist's invariants.
    /// Call once, after the last single-page allocation of the commit.
    mutating func finish() {
        freelist.giveBack(start: cursor, count: cursorEnd - cursor)
        cursor = cursorEnd
        atTail = true
        freelist.compact()
    }

    /// The index of the next extent to hand out, or nil to use the tail.
    private mutating func nextExtent() -> Int? {
        if order == nil { order = Self.longestFirst(freelist.extents) }
        guard let order else { return nil }
        while next < order.count {
            let i = Int(order[next])
            let count = freelist.extents[i].count
            if count == 0 { next += 1; continue }  // taken by a best-fit run
            if count < Self.minRun && freelist.freeCount <= slackPages { return nil }
            next += 1
            return i
        }
        return nil
    }

    /// Extent indices by length, longest first (ties in address order): a counting sort
    /// over lengths capped at `cap`, the extents at the cap then sorted by length.
    static func longestFirst(_ extents: [FreeExtent]) -> [Int32] {
        let cap = 64
        var starts = [Int](repeating: 0, count: cap + 2)
        for e in extents { starts[cap - Int(min(e.count, UInt64(cap))) + 1] += 1 }
        for c in 1..<starts.count { starts[c] += starts[c - 1] }
        var out = [Int32](repeating: 0, count: extents.count)
        for (i, e) in extents.enumerated() {
            let c = cap - Int(min(e.count, UInt64(cap)))
            out[starts[c]] = Int32(i)
            starts[c] += 1
        }
        // Class `cap` (length ≥ cap) is the prefix; order it by length too.
        let capped = extents.lazy.filter { $0.count >= UInt64(cap) }.count
        out[0..<capped].sort { extents[Int($0)].count > extents[Int($1)].count || (extents[Int($0)].count == extents[Int($1)].count && $0 < $1) }
        return out
    }
}
