@testable import PageStore
import Base
import Testing
import TestThreads

/// Overwrites and deletes reuse freed pages: the file stays bounded by live data.
@Suite struct FileSizeTests {
    @Test func overwriteAndDeleteRoundsKeepTheFileBounded() async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            let dir = TempDir(); defer { dir.cleanup() }
            var options = PageFileOptions()
            options.growthStepBytes = 64 << 10
            let file = try PageFile.open(path: dir.file(), options: options)
            defer { file.close() }
            let seed: UInt64 = 42
            var g = SeededGenerator(seed: seed)
            let keys = (0..<3000).map { bytes("key-\(format($0))") }
            var sizes: [Int] = []
            for round in 0..<40 {
                for batch in stride(from: 0, to: keys.count, by: 500) {
                    try file.update { txn in
                        let b = try txn.createBucketIfNeeded(named: bytes("records"))
                        for k in keys[batch..<batch + 500] {
                            if Int.random(in: 0..<10, using: &g) == 0 { try b.delete(k) } else {
                                try b.put(k, [UInt8](repeating: UInt8(round & 0xFF), count: Int.random(in: 100...300, using: &g)))
                            }
                        }
                        // A few big values rewritten every batch (blob runs freed and reallocated).
                        try b.put(bytes("big-\(batch)"), [UInt8](repeating: 1, count: Int.random(in: 10_000...60_000, using: &g)))
                    }
                }
                sizes.append(fileSize(dir.file()))
            }
            let stats = file.stats
            let report = try file.check()
            #expect(report.problems.isEmpty)
            // Live data: ~3000 × ~230 B + 6 × ≤60 KB ≈ 1 MB. After warm-up the file must not keep growing.
            let warm = sizes[4]
            #expect(sizes.last! <= warm + warm / 4, "seed \(seed): file grew from \(warm) to \(sizes.last!) bytes: \(sizes)")
            #expect(stats.pageCount * stats.pageSize <= 4 * 1_100_000, "seed \(seed): \(stats.pageCount) pages in use or free")
            print("FileSizeTests: file bytes per round \(sizes), final pageCount \(stats.pageCount), free \(stats.freePages), keys \(report.keys)")
        }
    }
}
