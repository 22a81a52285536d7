import Base
import Testing

@testable import MVCC

/// The cluster serving path's MVCC operations: reads at a closed global revision, lease
/// revoke as one revision, compaction above a range's current revision, no-op writes.
@Suite struct ClusterPathTests {
    // MARK: range(_:closedAt:)

    @Test func readAtClosedRevisionAboveCurrentAnswersLatestState() throws {
        let s = try freshStore()
        try s.put("a", "1", at: 5)
        try s.put("a", "2", at: 9)
        #expect(mvccError { _ = try s.range(RangeRequest(key: b("a"), revision: 20)) } == .futureRevision)
        let r = try s.range(RangeRequest(key: b("a")), closedAt: 20)
        #expect(r.revision == 20)
        #expect(r.kvs.map(\.value) == [b("2")])
        #expect(r.kvs.first?.modRevision == 9)
        // An explicit revision between current and closedAt: same state, header closedAt.
        let between = try s.range(RangeRequest(key: b("a"), revision: 15), closedAt: 20)
        #expect(between.revision == 20 && between.kvs.map(\.value) == [b("2")])
        // An explicit older revision reads history.
        let old = try s.range(RangeRequest(key: b("a"), revision: 6), closedAt: 20)
        #expect(old.kvs.map(\.value) == [b("1")] && old.revision == 20)
        #expect(mvccError { _ = try s.range(RangeRequest(key: b("a"), revision: 21), closedAt: 20) } == .futureRevision)
        #expect(s.currentRevision == 9, "a read does not move the range's revision")
    }

    @Test func readAtClosedRevisionBelowCurrentReadsThatRevision() throws {
        let s = try freshStore()
        try s.put("a", "1", at: 5)
        try s.put("a", "2", at: 9)
        let r = try s.range(RangeRequest(key: b("a")), closedAt: 7)
        #expect(r.kvs.map(\.value) == [b("1")])
        #expect(r.revision == 7)
        // An explicit revision up to the current one is allowed even above closedAt.
        let later = try s.range(RangeRequest(key: b("a"), revision: 9), closedAt: 7)
        #expect(later.kvs.map(\.value) == [b("2")])
    }

    @Test func readAtClosedRevisionOnEmptyRange() throws {
        let s = try freshStore()
        let r = try s.range(RangeRequest(key: [0], rangeEnd: [0]), closedAt: 100)
        #expect(r.revision == 100 && r.kvs.isEmpty && r.count == 0)
    }

    // MARK: deleteKeys

    @Test func deleteKeysDeletesManyKeysAtOneRevision() throws {
        let s = try freshStore()
        let n = 500  // far above maxTxnOps
        for i in 0..<n { try s.put(PutRequest(key: b("k\(i)"), value: b("v"), lease: 7), revision: Int64(2 + i)) }
        let keys = try s.keys(attachedTo: 7)
        #expect(keys.count == n)
        let rev = Int64(1000)
        let resp = try s.deleteKeys(keys + [b("k1"), b("missing")], revision: rev)
        #expect(resp.deleted == Int64(n))
        #expect(resp.revision == rev)
        #expect(s.currentRevision == rev)
        #expect(try s.range(RangeRequest(key: [0], rangeEnd: [0])).count == 0)
        #expect(try s.keys(attachedTo: 7).isEmpty)
        // Every deletion shares the main revision, with distinct increasing sub revisions.
        guard case .events(let events, _) = try s.events(key: [0], rangeEnd: [0], fromRevision: rev, limit: 10_000)
        else {
            Issue.record("compacted")
            return
        }
        #expect(events.count == n)
        #expect(events.allSatisfy { $0.kind == .delete && $0.kv.modRevision == rev })
        #expect(events.map(\.sub) == (0..<n).map { Int64($0) })
    }

    @Test func deleteKeysSkipsKeysOutsideTheRangeAndDeadKeys() throws {
        let s = try MVCCStore.create(backend: InMemoryBackend(), rangeID: RangeID(3), start: b("b"), end: b("m"))
        try s.put("c", "1", at: 2)
        try s.put("d", "1", at: 3)
        _ = try s.deleteRange(DeleteRangeRequest(key: b("d")), revision: 4)
        let resp = try s.deleteKeys([b("a"), b("c"), b("d"), b("z")], revision: 5)
        #expect(resp.deleted == 1)
        #expect(s.currentRevision == 5)
    }

    @Test func deleteKeysWithNothingToDeleteKeepsTheRevision() throws {
        let s = try freshStore()
        try s.put("a", "1", at: 2)
        let resp = try s.deleteKeys([b("x"), b("y")], revision: 3)
        #expect(resp.deleted == 0 && resp.revision == 3)
        #expect(s.currentRevision == 2)
        #expect(mvccError { _ = try s.deleteKeys([b("a")], revision: 2) } == .revisionNotIncreasing(given: 2, current: 2))
    }

    // MARK: no-op writes

    @Test func deleteRangeOfNothingDoesNotConsumeTheRevision() throws {
        let s = try freshStore()
        try s.put("a", "1", at: 2)
        let resp = try s.deleteRange(DeleteRangeRequest(key: b("b"), rangeEnd: b("z")), revision: 3)
        #expect(resp.deleted == 0 && resp.revision == 3)
        #expect(s.currentRevision == 2)
        #expect(!s.hasPendingWrites || s.currentRevision == 2)
        // The next write may use the same revision.
        try s.put("c", "1", at: 3)
        #expect(s.currentRevision == 3)
    }

    @Test func txnWhoseBranchWritesNothingDoesNotConsumeTheRevision() throws {
        let s = try freshStore()
        try s.put("a", "1", at: 2)
        let t = TxnRequest(
            compare: [Compare(key: b("a"), target: .value(b("other")), result: .equal)],
            success: [.put(PutRequest(key: b("a"), value: b("2")))],
            failure: [.range(RangeRequest(key: b("a")))])
        let resp = try s.txn(t, revision: 3)
        #expect(!resp.succeeded && resp.revision == 3)
        #expect(s.currentRevision == 2)
        // The same txn whose compare holds writes and takes the revision.
        let t2 = TxnRequest(
            compare: [Compare(key: b("a"), target: .value(b("1")), result: .equal)],
            success: t.success, failure: t.failure)
        let resp2 = try s.txn(t2, revision: 3)
        #expect(resp2.succeeded && s.currentRevision == 3)
        #expect(try s.get("a")?.value == b("2"))
    }

    // MARK: compaction above the current revision

    @Test func compactionAboveCurrentRevisionCompactsToLatestState() throws {
        let backend = InMemoryBackend()
        let s = try freshStore(backend)
        for rev in Int64(2)...6 { try s.put("k", "v\(rev)", at: rev) }
        try s.put("gone", "x", at: 7)
        _ = try s.deleteRange(DeleteRangeRequest(key: b("gone")), revision: 8)
        try s.commit(appliedIndex: 8)
        #expect(mvccError { try s.compact(50) } == .futureRevision, "single-store form stays etcd's")
        try s.compact(50, aboveCurrent: true)
        try s.commit(appliedIndex: 9)
        #expect(s.compactedRevision == 50)
        #expect(s.currentRevision == 8)
        #expect(backend.contents(.records).count == 1, "only k@6 survives")
        #expect(s.indexedKeyCount == 1)
        // Latest state stays readable, by both read forms; old explicit revisions are gone.
        #expect(try s.get("k")?.value == b("v6"))
        #expect(try s.range(RangeRequest(key: b("k")), closedAt: 60).kvs.first?.value == b("v6"))
        #expect(try s.range(RangeRequest(key: b("k"), revision: 50), closedAt: 60).kvs.first?.value == b("v6"))
        #expect(mvccError { _ = try s.range(RangeRequest(key: b("k"), revision: 49), closedAt: 60) } == .compacted)
        #expect(mvccError { _ = try s.get("k", at: 6) } == .compacted)
        #expect(try s.hashKV().compactRevision == 50)
        // A later write below the compacted revision is kept and visible.
        try s.put("k", "late", at: 30)
        #expect(try s.get("k")?.value == b("late"))
        #expect(try s.range(RangeRequest(key: b("k")), closedAt: 60).kvs.first?.version == 6)
        #expect(mvccError { try s.compact(50, aboveCurrent: true) } == .compacted)
        try s.compact(70, aboveCurrent: true)
        try s.commit(appliedIndex: 10)
        #expect(try s.get("k")?.value == b("late"))
        #expect(backend.contents(.records).count == 1, "k@6 superseded by k@30")
        let reopened = try MVCCStore.open(backend: backend, rangeID: s.rangeID)
        #expect(reopened.compactedRevision == 70)
        #expect(try reopened.get("k")?.value == b("late"))
        guard case .compacted(let at) = try reopened.events(key: b("k"), fromRevision: 60) else {
            Issue.record("watch below the compacted revision must be refused")
            return
        }
        #expect(at == 70)
    }
}
