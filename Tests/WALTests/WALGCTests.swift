import Base
import RaftCore
import Testing
import TestThreads
@testable import WAL

@Suite struct WALGCTests {
    let r1 = RangeID(1), r2 = RangeID(2)
    let options = WALOptions(segmentBytes: 2048, preallocate: false, cacheBytesPerRange: 0)

    func fill(_ wal: WriteAheadLog, batches: Range<Int>, ranges: [RangeID]) throws {
        for i in batches {
            let records: [WALRecord] = ranges.flatMap { r -> [WALRecord] in
                [.entries(r, makeEntries(term: 1, from: UInt64(i * 4 + 1), count: 4, size: 24)),
                 .hardState(r, HardState(term: 1, vote: 1, commit: UInt64(i * 4 + 4)))]
            }
            try wal.append(records)
        }
    }

    @Test func segmentsAreDeletedOnlyWhenEveryRangeAppliedPastThem() throws {
        let dir = TempDir()
        let (wal, _) = try WriteAheadLog.open(directory: dir.path, options: options)
        try fill(wal, batches: 0..<50, ranges: [r1, r2])
        let before = dir.segmentPaths.count
        #expect(before > 4)
        // r2 has applied nothing: nothing can go, and r2 is named as holding GC back.
        let blocked = try wal.collectGarbage(durableApplied: [r1: 200])
        #expect(blocked.deletedSegments.isEmpty)
        #expect(blocked.holdingBack.keys.contains(r2))
        #expect(!blocked.holdingBack.keys.contains(r1))
        // Both applied to 100: the segments wholly below 100 go, the logs now start above them.
        let report = try wal.collectGarbage(durableApplied: [r1: 100, r2: 100])
        #expect(!report.deletedSegments.isEmpty)
        #expect(dir.segmentPaths.count == before - report.deletedSegments.count)
        let (first1, last1) = wal.bounds(of: r1)!
        #expect(first1 > 1 && first1 <= 101 && last1 == 200)
        #expect(wal.term(of: r1, at: first1 - 1) == 1)
        #expect(throws: StorageError.compacted) { try wal.entries(of: r1, from: 1, to: 2) }
        // What remains is intact, and survives a reopen with the same bounds and hard state.
        let remaining = try readAllEntries(wal, r1)
        wal.close()
        let (reopened, _) = try WriteAheadLog.open(directory: dir.path, options: options)
        #expect(reopened.bounds(of: r1)! == (first1, 200))
        #expect(try readAllEntries(reopened, r1) == remaining)
        #expect(reopened.hardState(of: r2) == HardState(term: 1, vote: 1, commit: 200))
    }

    @Test func removedRangesDoNotHoldGCBack() throws {
        let dir = TempDir()
        let (wal, _) = try WriteAheadLog.open(directory: dir.path, options: options)
        try fill(wal, batches: 0..<30, ranges: [r1, r2])
        try wal.append([.rangeRemoved(r2)])
        let report = try wal.collectGarbage(durableApplied: [r1: 120])
        #expect(report.holdingBack.isEmpty || !report.holdingBack.keys.contains(r2))
        #expect(dir.segmentPaths.count == 1 + (wal.stats.liveSegments - 1))
        #expect(wal.stats.liveSegments <= 2)
    }

    @Test func diskUseStaysBoundedUnderSteadyWritesWithGC() async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            let dir = TempDir()
            let (wal, _) = try WriteAheadLog.open(directory: dir.path, options: options)
            var peak = 0
            for round in 0..<40 {
                try fill(wal, batches: (round * 10)..<(round * 10 + 10), ranges: [r1, r2])
                let applied = UInt64(round * 40 + 40)
                _ = try wal.collectGarbage(durableApplied: [r1: applied, r2: applied])
                peak = max(peak, wal.diskBytes)
            }
            // 1,600 entries per range were written; with GC keeping up only a few segments live.
            #expect(wal.stats.segmentsCreated > 20)
            #expect(wal.stats.liveSegments <= 3)
            #expect(peak <= 4 * options.segmentBytes)
        }
    }
}
