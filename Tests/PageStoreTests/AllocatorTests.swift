@testable import PageStore
import Base
import Testing

/// The run allocator (`PageAllocator` over `Freelist` extents) against a model of free pages
/// (a plain bitmap): random frees (some held pending for readers), then a commit's allocations.
/// Checked at every step: no page is handed out twice or while in use; a new run starts at
/// the longest free run of the moment (lowest address on ties), or at the tail only when
/// every free run is shorter than `minRun` and at most `slackPages` pages are free; best-fit
/// runs take the shortest free run that holds them; after `finish()` the extents are exactly
/// the model's free pages, sorted and coalesced, and `freeCount` matches.
@Suite struct AllocatorTests {
    /// The model: page `i` is free when `free[i]`; pages `[2, pageCount)` exist.
    struct FreeModel {
        var free: [Bool]
        var pageCount: Int

        init(pageCount: Int) {
            self.pageCount = pageCount
            free = [Bool](repeating: false, count: pageCount)
        }

        var freeCount: Int { free.count { $0 } }

        /// Maximal runs of free pages, by address.
        var runs: [(start: Int, count: Int)] {
            var out: [(Int, Int)] = []
            var i = 0
            while i < pageCount {
                if free[i] {
                    var j = i
                    while j < pageCount && free[j] { j += 1 }
                    out.append((i, j - i))
                    i = j
                } else { i += 1 }
            }
            return out
        }

        mutating func grow(to n: Int) {
            while free.count < n { free.append(false) }
            pageCount = max(pageCount, n)
        }
    }

    static func extents(_ m: FreeModel) -> [FreeExtent] {
        m.runs.map { FreeExtent(start: PageID($0.start), count: UInt64($0.count)) }
    }

    /// One randomized history: `commits` rounds of frees and allocations.
    static func run(seed: UInt64, commits: Int, strictPolicy: Bool) throws {
        var g = SeededGenerator(seed: seed)
        var model = FreeModel(pageCount: 2)
        var freelist = Freelist()
        var inUse: [PageID] = []  // pages allocated and not freed since
        var pendingModel: [(txid: UInt64, pages: [PageID])] = []
        let context = "AllocatorTests seed \(seed) strict \(strictPolicy)"
        for txid in UInt64(1)...UInt64(commits) {
            // Free a random share of the pages in use (pending until released).
            inUse.shuffle(using: &g)
            let n = Int.random(in: 0...(inUse.count / 3 + 1), using: &g)
            let freed = Array(inUse.suffix(min(n, inUse.count)))
            inUse.removeLast(freed.count)
            freelist.addPending(txid: txid, pages: freed)
            if !freed.isEmpty { pendingModel.append((txid, freed)) }
            // Readers hold back a random number of recent commits.
            let oldest = txid - UInt64.random(in: 0...min(txid, 3), using: &g)
            freelist.release(oldestReader: oldest)
            pendingModel.removeAll { e in
                guard e.txid <= oldest else { return false }
                for p in e.pages { model.free[Int(p)] = true }
                return true
            }
            try #require(freelist.extents == extents(model), "\(context) txid \(txid): released extents differ")
            try #require(freelist.freeCount == model.freeCount, "\(context) txid \(txid): freeCount")
            try #require(freelist.pendingCount == pendingModel.reduce(0) { $0 + $1.pages.count }, "\(context) txid \(txid): pending")

            let slack = [0, 10, 30, 100].randomElement(using: &g)!
            var alloc = PageAllocator(freelist: freelist, pageCount: UInt64(model.pageCount), slackPercent: slack)
            let slackPages = model.pageCount * slack / 100
            let startCount = model.pageCount
            // Sometimes a run set aside first (the commit's freelist run): best fit, no tail.
            var reservedRun: (start: Int, count: Int)?
            if !strictPolicy && Int.random(in: 0..<3, using: &g) == 0 {
                let n = Int.random(in: 1...6, using: &g)
                alloc.reserveRun(n)
                let best = model.runs.filter { $0.count >= n }.min { a, b in a.count < b.count || (a.count == b.count && a.start < b.start) }
                let got = alloc.reserved
                try #require(got?.start == best.map { PageID($0.start) } && (got == nil || got!.count == n),
                             "\(context) txid \(txid): reserved \(String(describing: got)), best fit for \(n) is \(String(describing: best))")
                if let best {
                    for p in best.start..<best.start + n { model.free[p] = false }
                    reservedRun = (best.start, n)
                }
            }
            var last: PageID?  // the previous single page, while its run continues
            var reserved = 0..<0  // the rest of the extent the current run was taken from
            var took: [PageID] = []
            let steps = Int.random(in: 0...120, using: &g)
            for step in 0..<steps {
                let where_ = "\(context) txid \(txid) step \(step) slack \(slack)"
                let runLength = strictPolicy ? 1 : (Int.random(in: 0..<8, using: &g) == 0 ? Int.random(in: 2...12, using: &g) : 1)
                if runLength == 1 {
                    let id = alloc.allocatePage()
                    if let l = last, id == l + 1, reserved.contains(Int(id)) {
                        reserved = Int(id) + 1..<reserved.upperBound
                    } else {
                        // A new run: the longest free run now (model free excludes `reserved`,
                        // which the allocator gave up on by moving on).
                        for p in reserved { model.free[p] = false }  // still held by the allocator until finish
                        let runs = model.runs
                        let best = runs.max { a, b in a.count < b.count || (a.count == b.count && a.start > b.start) }
                        if Int(id) >= model.pageCount {
                            try #require(Int(id) == model.pageCount, "\(where_): tail page \(id) is not the next page \(model.pageCount)")
                            if strictPolicy, let best {
                                try #require(best.count < Int(PageAllocator.minRun) && model.freeCount <= slackPages,
                                             "\(where_): went to the tail with a free run of \(best.count) pages and \(model.freeCount) free > slack \(slackPages)")
                            }
                            model.grow(to: Int(id) + 1)
                            reserved = 0..<0
                        } else {
                            try #require(model.free[Int(id)], "\(where_): page \(id) handed out while not free")
                            let run = runs.first { $0.start <= Int(id) && Int(id) < $0.start + $0.count }!
                            try #require(run.start == Int(id), "\(where_): a run starts inside a free run (\(id) in \(run))")
                            if strictPolicy, let best {
                                try #require(run.count == best.count && run.start == best.start,
                                             "\(where_): took the run at \(run.start)+\(run.count), the longest is \(best.start)+\(best.count)")
                                try #require(run.count >= Int(PageAllocator.minRun) || model.freeCount > slackPages,
                                             "\(where_): filled a hole of \(run.count) pages with \(model.freeCount) free <= slack \(slackPages)")
                            }
                            reserved = Int(id) + 1..<run.start + run.count
                        }
                        for p in reserved { model.free[p] = false }
                    }
                    if Int(id) < model.pageCount { model.free[Int(id)] = false }
                    last = id
                    took.append(id)
                } else {
                    let id = alloc.allocateRun(runLength)
                    let candidates = model.runs.filter { $0.count >= runLength }
                    let best = candidates.min { a, b in a.count < b.count || (a.count == b.count && a.start < b.start) }
                    if let best {
                        try #require(Int(id) == best.start, "\(where_): best fit for \(runLength) is \(best.start)+\(best.count), got \(id)")
                        for p in best.start..<best.start + runLength { model.free[p] = false }
                    } else {
                        try #require(Int(id) >= model.pageCount, "\(where_): run of \(runLength) at \(id) while no free run fits")
                        try #require(Int(id) == model.pageCount, "\(where_): tail run at \(id), tail is \(model.pageCount)")
                        model.grow(to: Int(id) + runLength)
                    }
                    took.append(contentsOf: (0..<UInt64(runLength)).map { id + $0 })
                }
            }
            // The allocator gives the unused rest of its run back.
            alloc.finish()
            for p in reserved { model.free[p] = true }
            // The reserved run: its first `used` pages kept, the rest given back (as
            // `writeFreelist` does).
            if let r = reservedRun {
                let taken = alloc.takeReserved()
                try #require(taken?.start == PageID(r.start) && taken?.count == r.count, "\(context) txid \(txid): reserved run lost")
                let used = Int.random(in: 0...r.count, using: &g)
                alloc.freelist.giveBack(start: PageID(r.start + used), count: UInt64(r.count - used))
                alloc.freelist.compact()
                for p in r.start + used..<r.start + r.count { model.free[p] = true }
                took.append(contentsOf: (r.start..<r.start + used).map { PageID($0) })
            }
            try #require(alloc.pageCount == UInt64(model.pageCount), "\(context) txid \(txid): pageCount \(alloc.pageCount) != \(model.pageCount)")
            try #require(Set(took).count == took.count, "\(context) txid \(txid): a page was handed out twice")
            try #require(took.allSatisfy { $0 >= 2 && ($0 >= UInt64(startCount) || !inUse.contains($0)) }, "\(context): handed out a page in use")
            try #require(alloc.freelist.extents == extents(model), "\(context) txid \(txid): extents after finish differ")
            try #require(alloc.freelist.freeCount == model.freeCount, "\(context) txid \(txid): freeCount after finish")
            // What a freelist page would record: free, pending and nothing else.
            var restart = model
            for e in pendingModel { for p in e.pages { restart.free[Int(p)] = true } }
            try #require(alloc.freelist.extents(adding: []) == extents(restart), "\(context) txid \(txid): on-disk extents differ")
            freelist = alloc.freelist
            inUse.append(contentsOf: took)
        }
    }

    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 6])
    func policyMatchesTheModel(seed: UInt64) throws {
        try Self.run(seed: seed, commits: 150, strictPolicy: true)
    }

    @Test(arguments: [UInt64(11), 12, 13, 14])
    func mixedRunsAndPagesMatchTheModel(seed: UInt64) throws {
        try Self.run(seed: seed, commits: 150, strictPolicy: false)
    }

    /// The longest-first order (a counting sort capped at 64 plus a sort of the capped class)
    /// equals a plain sort by (length descending, index ascending).
    @Test func longestFirstOrder() {
        var g = SeededGenerator(seed: 99)
        for round in 0..<50 {
            var start: UInt64 = 2
            let extents = (0..<Int.random(in: 0...300, using: &g)).map { _ -> FreeExtent in
                let count = UInt64.random(in: 1...(Int.random(in: 0..<4, using: &g) == 0 ? 200 : 9), using: &g)
                defer { start += count + UInt64.random(in: 1...5, using: &g) }
                return FreeExtent(start: start, count: count)
            }
            let want = extents.indices.sorted { extents[$0].count > extents[$1].count || (extents[$0].count == extents[$1].count && $0 < $1) }
            #expect(PageAllocator.longestFirst(extents).map(Int.init) == want, "seed 99 round \(round)")
        }
    }
}
