@testable import PageStore
import Base
import Testing
import TestThreads

/// Commits write their pages in contiguous runs, and the file stays consistent and bounded.
@Suite struct RunWriteTests {
    /// Random overwrites and deletes of small records over a file of ~1,600 leaves, 100 per
    /// commit: each commit frees ~100 old pages scattered over the file (holes of one or two
    /// pages). With slack 100 the allocator takes single pages only from free runs of at least
    /// `minRun` pages or from the tail, so a commit's pages form at most pages/minRun + 3 runs
    /// (the last extent taken, the tail, the freelist run); filling the scattered holes would
    /// give about one run per page.
    @Test(arguments: [UInt64(21), 22, 23])
    func commitsWriteFewRuns(seed: UInt64) async throws {
        try await onOwnThread {
            let dir = TempDir(); defer { dir.cleanup() }
            var options = PageFileOptions()
            options.allocationSlackPercent = 100
            options.growthStepBytes = 64 << 10
            let file = try PageFile.open(path: dir.file(), options: options)
            var g = SeededGenerator(seed: seed)
            var model = Model()
            let name = bytes("records")
            let keys = 20_000
            for start in stride(from: 0, to: keys, by: 5_000) {
                let ops: [Op] = (start..<start + 5_000).map { .put(name, key: bytes("k\($0)"), value: [UInt8](repeating: 1, count: 200)) }
                try file.update { txn in for op in ops { try perform(op, &txn) } }
                for op in ops { model.apply(op) }
            }
            var totalPages = 0, totalRuns = 0
            for commit in 0..<60 {
                let ops: [Op] = (0..<100).map { _ in
                    let k = bytes("k\(Int.random(in: 0..<keys, using: &g))")
                    if Int.random(in: 0..<6, using: &g) == 0 { return .delete(name, key: k) }
                    return .put(name, key: k, value: [UInt8](repeating: UInt8(commit), count: Int.random(in: 100...300, using: &g)))
                }
                let before = file.stats
                try file.update { txn in for op in ops { try perform(op, &txn) } }
                for op in ops { model.apply(op) }
                let after = file.stats
                let pages = after.pagesWritten - before.pagesWritten
                let runs = after.runsWritten - before.runsWritten
                totalPages += pages
                totalRuns += runs
                #expect(runs <= pages / Int(PageAllocator.minRun) + 3,
                        "seed \(seed) commit \(commit): \(pages) pages in \(runs) runs")
            }
            print("RunWriteTests: seed \(seed): \(totalPages) pages in \(totalRuns) runs over 60 commits")
            let report = try file.check()
            #expect(report.problems.isEmpty, "seed \(seed): \(report.problems.prefix(5))")
            file.close()
            let reopened = try PageFile.open(path: dir.file(), options: options)
            defer { reopened.close() }
            let diff = try difference(reopened, model)
            #expect(diff == nil, "seed \(seed): \(diff ?? "")")
        }
    }

    /// The slack costs at most its share of the file: the same overwrite workload (some
    /// commits rewrite every leaf, most a tenth) ends with at most `slack`% more pages than
    /// with slack 0 (plus a small margin), and the file stops growing once warm.
    @Test func slackCostsAtMostItsShare() async throws {
        try await onOwnThread {
            let seed: UInt64 = 31
            var final: [Int: Int] = [:]
            for slack in [0, 20] {
                let dir = TempDir(); defer { dir.cleanup() }
                var options = PageFileOptions()
                options.growthStepBytes = 64 << 10
                options.allocationSlackPercent = slack
                let file = try PageFile.open(path: dir.file(), options: options)
                defer { file.close() }
                var g = SeededGenerator(seed: seed)
                let name = bytes("records")
                var pageCounts: [Int] = []
                for _ in 0..<30 {
                    for batch in 0..<10 {
                        try file.update { txn in
                            let b = try txn.createBucketIfNeeded(named: name)
                            for i in 0..<400 {
                                try b.put(bytes("key\(batch * 400 + i)"), [UInt8](repeating: 7, count: Int.random(in: 150...250, using: &g)))
                            }
                        }
                    }
                    pageCounts.append(file.stats.pageCount)
                }
                #expect(pageCounts.last! <= pageCounts[9] + pageCounts[9] / 8, "seed \(seed) slack \(slack): still growing: \(pageCounts)")
                #expect(try file.check().problems.isEmpty)
                final[slack] = pageCounts.last!
                print("RunWriteTests: slack \(slack): pages per round \(pageCounts)")
            }
            #expect(final[20]! <= final[0]! + final[0]! / 4 + 16, "seed \(seed): \(final[20]!) pages with slack 20, \(final[0]!) with 0")
        }
    }

    /// A freelist of several pages (hundreds of free extents) keeps finding a run for its next
    /// copy instead of growing the file at every commit. Deleting most keys in random order
    /// leaves thousands of short holes (slack 0 fills them: the previous freelist runs are
    /// the longest free extents); overwrites then must keep the page count flat. (Without the
    /// run set aside at the start of the commit, the longest-first single-page allocation
    /// took the run the freelist fits in and every freelist run went to the tail: 2.0–2.9x
    /// file growth at 200k keys in the bench.)
    @Test func multiPageFreelistDoesNotGrowTheFile() async throws {
        try await onOwnThread {
            let dir = TempDir(); defer { dir.cleanup() }
            var options = PageFileOptions()
            options.growthStepBytes = 64 << 10
            options.allocationSlackPercent = 0
            let file = try PageFile.open(path: dir.file(), options: options)
            defer { file.close() }
            let seed: UInt64 = 41
            var g = SeededGenerator(seed: seed)
            let name = bytes("records")
            let keys = 40_000
            for start in stride(from: 0, to: keys, by: 5_000) {
                try file.update { txn in
                    let b = try txn.createBucketIfNeeded(named: name)
                    for i in start..<start + 5_000 { try b.put(bytes("k\(i)"), [UInt8](repeating: 1, count: 200)) }
                }
            }
            // Delete three keys in four (random order, a few commits): scattered holes.
            var doomed = (0..<keys).filter { $0 % 4 != 0 }
            doomed.shuffle(using: &g)
            for chunk in stride(from: 0, to: doomed.count, by: 10_000) {
                try file.update { txn in
                    let b = try txn.createBucketIfNeeded(named: name)
                    for i in doomed[chunk..<min(chunk + 10_000, doomed.count)] { _ = try b.delete(bytes("k\(i)")) }
                }
            }
            var pageCounts: [Int] = []
            for commit in 0..<200 {
                try file.update { txn in
                    let b = try txn.createBucketIfNeeded(named: name)
                    for _ in 0..<50 {
                        try b.put(bytes("k\(4 * Int.random(in: 0..<keys / 4, using: &g))"), [UInt8](repeating: UInt8(commit & 0xFF), count: 200))
                    }
                }
                if commit % 25 == 24 { pageCounts.append(file.stats.pageCount) }
            }
            let s = file.stats
            print("RunWriteTests: multi-page freelist: page counts \(pageCounts), free \(s.freePages)")
            #expect(s.freePages > 3 * 4096 / 16, "seed \(seed): the freelist should span several pages (\(s.freePages) free pages)")
            #expect(pageCounts.last! <= pageCounts[0] + pageCounts[0] / 20, "seed \(seed): file keeps growing: \(pageCounts)")
            #expect(try file.check().problems.isEmpty)
        }
    }
}
