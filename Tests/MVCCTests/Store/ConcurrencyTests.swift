#if canImport(Glibc)
import Glibc
#endif
import Base
import PageStore
import Testing

@testable import MVCC

/// Readers keep getting identical answers at a fixed revision while a writer puts,
/// compacts in batches and commits on another thread.
@Suite struct ConcurrencyTests {
    @Test func readsStayConsistentDuringWritesAndCompaction() async throws {
        let path = "/tmp/flotilla-mvcc-concurrency-\(getpid()).db"
        unlink(path)
        defer { unlink(path) }
        let backend = try PageStoreBackend.open(path: path)
        defer { backend.file.close() }
        let s = try freshStore(backend)
        var rev: Int64 = 1
        for round in 0..<3 {
            for i in 0..<300 {
                rev += 1
                try s.put("key\(i)", "r\(round)-\(i)", at: rev)
            }
        }
        try s.commit(appliedIndex: 1)
        let pinned = rev
        let expected = try s.range(RangeRequest(key: [0], rangeEnd: [0], revision: pinned))
        let writerRev = rev

        try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                var r = writerRev
                var index: UInt64 = 1
                for step in 0..<40 {
                    for i in 0..<25 {
                        r += 1
                        try s.put("key\((step * 25 + i) % 300)", "w\(r)", at: r)
                    }
                    if step == 5 { _ = try s.scheduleCompaction(pinned) }
                    _ = try s.compactionStep(maxKeys: 20)
                    index += 1
                    try s.commit(appliedIndex: index)
                }
                while try s.compactionStep(maxKeys: 20) {}
                try s.commit(appliedIndex: index + 1)
                return 0
            }
            for _ in 0..<2 {
                group.addTask {
                    var mismatches = 0
                    for _ in 0..<60 {
                        let got = try s.range(RangeRequest(key: [0], rangeEnd: [0], revision: pinned))
                        if got.kvs != expected.kvs || got.count != expected.count { mismatches += 1 }
                    }
                    return mismatches
                }
            }
            var total = 0
            for try await m in group { total += m }
            #expect(total == 0, "reads at the pinned revision changed while writing and compacting")
        }
        #expect(s.compactedRevision == pinned)
        #expect(try s.range(RangeRequest(key: [0], rangeEnd: [0], revision: pinned)).kvs == expected.kvs)
        #expect(mvccError { _ = try s.range(RangeRequest(key: b("key1"), revision: pinned - 1)) } == .compacted)
    }
}
