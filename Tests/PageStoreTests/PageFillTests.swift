@testable import PageStore
import Base
import Testing
import TestThreads

/// Leaves stay dense under the MVCC pattern: each key's new version is inserted next to the
/// old one (splitting the leaf), then a later transaction deletes the old version.
@Suite struct PageFillTests {
    /// Runs `rounds` rewrite+compact rounds over `keyCount` keys in ascending or shuffled
    /// order and returns (used pages × page size) / (live serialised element bytes).
    private func rewriteAndCompact(ascending: Bool, seed: UInt64, keyCount: Int = 4000, rounds: Int = 5)
        throws -> (ratio: Double, report: CheckReport)
    {
        let dir = TempDir(); defer { dir.cleanup() }
        var options = PageFileOptions()
        options.durable = false
        options.growthStepBytes = 64 << 10
        let file = try PageFile.open(path: dir.file(), options: options)
        defer { file.close() }
        var g = SeededGenerator(seed: seed)
        let name = bytes("records")
        let valueBytes = 200
        func versionKey(_ k: Int, _ rev: Int) -> [UInt8] { bytes("k\(format(k))/r\(format(rev))") }
        for rev in 0..<rounds {
            var order = Array(0..<keyCount)
            if !ascending { order.shuffle(using: &g) }
            for start in stride(from: 0, to: keyCount, by: 500) {
                let batch = order[start..<min(start + 500, keyCount)]
                try file.update { txn in
                    let b = try txn.createBucketIfNeeded(named: name)
                    for k in batch { try b.put(versionKey(k, rev), [UInt8](repeating: UInt8(rev & 0xFF), count: valueBytes)) }
                }
                if rev > 0 {
                    // Compaction: the superseded versions go in a later transaction.
                    try file.update { txn in
                        let b = try txn.createBucketIfNeeded(named: name)
                        for k in batch { _ = try b.delete(versionKey(k, rev - 1)) }
                    }
                }
            }
        }
        let report = try file.check()
        let live = keyCount * (PageLayout.leafElementSize + versionKey(0, 0).count + valueBytes)
        return (Double(report.usedPages * file.pageSize) / Double(live), report)
    }

    @Test(arguments: [true, false])
    func rewriteThenCompactKeepsLeavesDense(ascending: Bool) async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            let seed: UInt64 = 7
            let (ratio, report) = try rewriteAndCompact(ascending: ascending, seed: seed)
            print("PageFillTests: ascending \(ascending): used pages \(report.usedPages), bytes/live \(ratio)")
            #expect(report.problems.isEmpty, "seed \(seed): \(report.problems.prefix(5))")
            #expect(report.keys == 4000, "seed \(seed)")
            // Leaves under half full are merged with a sibling when the pair fits one page.
            // Measured: ascending 1.15, shuffled 1.55; with the old quarter-page rule only,
            // 2.16 and 2.04. Shuffled inserts split full leaves in the middle (B-tree ~2/3 fill).
            let bar = ascending ? 1.3 : 1.7
            #expect(ratio <= bar, "seed \(seed) ascending \(ascending): used bytes / live bytes \(ratio) > \(bar)")
        }
    }
}
