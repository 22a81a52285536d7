import Base
import Testing

@testable import MVCC

@Suite struct CompactionWatchHashTests {
    @Test func compactionRemovesSupersededRecordsFromFile() throws {
        let backend = InMemoryBackend()
        let s = try freshStore(backend)
        for rev in Int64(2)...11 { try s.put("k", "v\(rev)", at: rev) }
        try s.put("gone", "x", at: 12)
        _ = try s.deleteRange(DeleteRangeRequest(key: b("gone")), revision: 13)
        try s.commit(appliedIndex: 12)
        #expect(backend.contents(.records).count == 12)
        #expect(backend.contents(.history).count == 12)
        #expect(mvccError { try s.compact(14) } == .futureRevision)
        try s.compact(13, batchKeys: 1)
        #expect(mvccError { try s.compact(13) } == .compacted)
        #expect(mvccError { try s.compact(5) } == .compacted)
        try s.commit(appliedIndex: 13)
        #expect(backend.contents(.records).count == 1, "only k@11 survives")
        #expect(backend.contents(.history).count == 1)
        #expect(s.indexedKeyCount == 1)
        #expect(try s.get("k")?.version == 10)
        #expect(try s.get("k", at: 13)?.value == b("v11"))
        // Reopen: the compacted revision and the surviving version are durable.
        let reopened = try MVCCStore.open(backend: backend, rangeID: s.rangeID)
        #expect(reopened.compactedRevision == 13)
        #expect(try reopened.get("k")?.version == 10)
    }

    @Test func readsAndWritesInterleaveWithCompactionBatches() throws {
        let s = try freshStore()
        for i in 0..<100 { try s.put("k\(i)", "a", at: Int64(2 + i)) }
        for i in 0..<100 { try s.put("k\(i)", "b", at: Int64(200 + i)) }
        let before = try s.range(RangeRequest(key: [0], rangeEnd: [0], revision: 250))
        _ = try s.scheduleCompaction(250)
        var steps = 0
        var rev: Int64 = 400
        while try s.compactionStep(maxKeys: 7) {
            steps += 1
            let during = try s.range(RangeRequest(key: [0], rangeEnd: [0], revision: 250))
            #expect(during.kvs == before.kvs && during.count == before.count, "step \(steps)")
            try s.put("k\(steps)", "c", at: rev)
            rev += 1
        }
        #expect(steps >= 14)
        #expect(mvccError { _ = try s.range(RangeRequest(key: b("k1"), revision: 249)) } == .compacted)
        #expect(try s.range(RangeRequest(key: [0], rangeEnd: [0], revision: 250)).kvs == before.kvs)
    }

    @Test func watchEventsInRevisionOrderWithPrevKV() throws {
        let s = try freshStore()
        try s.put("a", "1", at: 2)
        try s.put("b", "1", at: 3)
        try s.commit(appliedIndex: 3)
        try s.put("a", "2", at: 4)
        _ = try s.deleteRange(DeleteRangeRequest(key: b("a")), revision: 5)
        try s.put("c", "1", at: 6)
        guard case .events(let all, let next) = try s.events(key: b("a"), rangeEnd: b("c"), fromRevision: 3, prevKV: true)
        else { Issue.record("compacted"); return }
        #expect(all.map(\.kv.modRevision) == [3, 4, 5])
        #expect(all.map(\.kind) == [.put, .put, .delete])
        #expect(all[1].prevKV?.value == b("1"))
        #expect(all[2].prevKV?.value == b("2") && all[2].kv.value == [] && all[2].kv.version == 0)
        #expect(next == 7)
        guard case .events(let one, let n2) = try s.events(key: b("a"), fromRevision: 0, limit: 1) else {
            Issue.record("compacted")
            return
        }
        #expect(one.map(\.kv.modRevision) == [2] && n2 == 3)
        try s.compact(4)
        #expect(try s.events(key: b("a"), fromRevision: 3) == .compacted(compactRevision: 4))
    }

    @Test func hashKVEqualAcrossReplicasWithDifferentCommitTiming() throws {
        let r1 = try freshStore()
        let r2 = try freshStore()
        var rng = SeededGenerator(seed: 7)
        for rev in Int64(2)..<300 {
            let key = "k\(Int.random(in: 0..<20, using: &rng))"
            for s in [r1, r2] {
                if rev % 7 == 0 {
                    _ = try s.deleteRange(DeleteRangeRequest(key: b(key)), revision: rev)
                } else {
                    try s.put(key, "v\(rev)", at: rev)
                }
            }
            if rev % 5 == 0 { try r1.commit(appliedIndex: UInt64(rev)) }
            if rev % 13 == 0 { try r2.commit(appliedIndex: UInt64(rev)) }
        }
        try r1.compact(150)
        _ = try r2.scheduleCompaction(150)
        _ = try r2.compactionStep(maxKeys: 3)  // r2's compaction is only partly done
        #expect(try r1.hashKV(atRevision: 200) == r2.hashKV(atRevision: 200))
        #expect(try r1.hashKV() == r2.hashKV())
        #expect(try r1.hashKV(atRevision: 200).hash != r1.hashKV(atRevision: 201).hash)
        try r2.put("k1", "divergent", at: 400)
        try r1.put("k1", "other", at: 400)
        #expect(try r1.hashKV().hash != r2.hashKV().hash)
        #expect(mvccError { _ = try r1.hashKV(atRevision: 100) } == .compacted)
    }

    @Test func crashLosesOnlyUncommittedAndKeepsAppliedIndex() throws {
        let backend = InMemoryBackend()
        var s: MVCCStore? = try freshStore(backend)
        try s!.put("a", "1", at: 2)
        try s!.put("b", "1", at: 3)
        try s!.commit(appliedIndex: 2)
        try s!.put("c", "1", at: 4)
        s = nil  // crash before the next commit
        let reopened = try MVCCStore.open(backend: backend, rangeID: RangeID(2))
        #expect(reopened.appliedIndex == 2)
        #expect(reopened.currentRevision == 3)
        #expect(try reopened.keys(RangeRequest(key: [0], rangeEnd: [0])) == ["a", "b"])
    }
}
