import Base
import RaftCore
import Testing
import WAL

/// The WAL's per-fsync histograms: Prometheus `le` semantics (a value equal to a bound
/// falls in that bound's bucket) and what `append` records.
@Suite struct WALHistogramTests {
    @Test func valuesOnABoundCountInThatBucket() {
        var h = WALHistogram(bounds: [10, 20, 40])
        for v: UInt64 in [0, 10, 11, 20, 21, 40, 41, 1_000] { h.observe(v) }
        #expect(h.counts == [2, 2, 2, 2])
        #expect(h.count == 8)
        #expect(h.sum == 0 + 10 + 11 + 20 + 21 + 40 + 41 + 1_000)
        let cumulative = h.cumulative
        #expect(cumulative.map(\.bound) == [10, 20, 40, nil])
        #expect(cumulative.map(\.count) == [2, 4, 6, 8])
    }

    @Test func matchesALinearScanOnRandomValues() {
        let seed = UInt64.random(in: 1...UInt64.max)
        var rng = SeededGenerator(seed: seed)
        let bounds = WALHistogram.fsyncNanosBounds
        var h = WALHistogram(bounds: bounds)
        var expected = [UInt64](repeating: 0, count: bounds.count + 1)
        for _ in 0..<5_000 {
            let v = UInt64.random(in: 0...(bounds.last! * 2), using: &rng)
            h.observe(v)
            expected[bounds.firstIndex { v <= $0 } ?? bounds.count] += 1
        }
        #expect(h.counts == expected, "seed \(seed)")
    }

    @Test func publicBoundsIncrease() {
        for bounds in [WALHistogram.fsyncNanosBounds, WALHistogram.entriesPerFsyncBounds] {
            #expect(zip(bounds, bounds.dropFirst()).allSatisfy { $0 < $1 })
        }
        #expect(WALHistogram.fsyncNanosBounds.first == 100_000)
        #expect(WALHistogram.entriesPerFsyncBounds.prefix(3) == [0, 1, 2])
    }

    @Test func appendObservesEveryFsync() throws {
        let dir = TempDir()
        let (wal, _) = try WriteAheadLog.open(directory: dir.path)
        let r = RangeID(7)
        try wal.append([.entries(r, makeEntries(term: 1, from: 1, count: 3))])
        try wal.append([.entries(r, makeEntries(term: 1, from: 4, count: 100))])
        try wal.append([.hardState(r, HardState(term: 1, vote: 1, commit: 50))])
        let s = wal.stats
        #expect(s.fsyncDuration.count == 3)
        #expect(s.fsyncDuration.sum == s.fsyncNanosTotal)
        #expect(s.entriesPerFsync.count == 3)
        #expect(s.entriesPerFsync.sum == 103)
        // 0 entries → le=0; 3 → le=4; 100 → le=128.
        let bounds = WALHistogram.entriesPerFsyncBounds
        var expected = [UInt64](repeating: 0, count: bounds.count + 1)
        for n: UInt64 in [0, 3, 100] { expected[bounds.firstIndex { n <= $0 }!] += 1 }
        #expect(s.entriesPerFsync.counts == expected)
        #expect(expected[bounds.firstIndex(of: 0)!] == 1 && expected[bounds.firstIndex(of: 4)!] == 1
            && expected[bounds.firstIndex(of: 128)!] == 1)
    }
}
