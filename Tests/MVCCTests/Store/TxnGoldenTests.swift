import Base
import Testing

@testable import MVCC

/// Golden answers for Txn, as etcd gives them.
@Suite struct TxnGoldenTests {
    func cmp(_ key: String, _ target: Compare.Target, _ result: Compare.Result, end: [UInt8] = []) -> Compare {
        Compare(key: b(key), rangeEnd: end, target: target, result: result)
    }

    func store() throws -> MVCCStore {
        let s = try freshStore()
        try s.put("a", "1", at: 10, lease: 5)
        try s.put("a", "2", at: 11, lease: 5)
        try s.put("b", "x", at: 12)
        return s
    }

    @Test func compareTargetsAndResults() throws {
        let s = try store()
        let cases: [(Compare, Bool)] = [
            (cmp("a", .version(2), .equal), true),
            (cmp("a", .version(1), .greater), true),
            (cmp("a", .version(3), .less), true),
            (cmp("a", .version(2), .notEqual), false),
            (cmp("a", .create(10), .equal), true),
            (cmp("a", .mod(11), .equal), true),
            (cmp("a", .mod(12), .less), true),
            (cmp("a", .value(b("2")), .equal), true),
            (cmp("a", .value(b("1")), .greater), true),
            (cmp("a", .lease(5), .equal), true),
            (cmp("b", .lease(0), .equal), true),
            (cmp("zz", .create(0), .equal), true),  // a missing key compares as zero
            (cmp("zz", .version(0), .equal), true),
            (cmp("zz", .value([]), .equal), false),  // VALUE on a missing key always fails
            (cmp("zz", .value([]), .notEqual), false),
            (cmp("a", .mod(10), .greater, end: b("c")), true),  // every key in [a, c)
            (cmp("a", .mod(11), .greater, end: b("c")), false),
            (cmp("a", .version(1), .equal, end: [0]), false),
        ]
        for (i, (c, want)) in cases.enumerated() {
            let r = try s.txn(TxnRequest(compare: [c], success: [.range(RangeRequest(key: b("a")))]), revision: nil)
            #expect(r.succeeded == want, "case \(i): \(c)")
        }
    }

    @Test func branchesWritesShareOneRevision() throws {
        let s = try store()
        let t = TxnRequest(
            compare: [cmp("a", .value(b("2")), .equal)],
            success: [
                .put(PutRequest(key: b("c"), value: b("new"))),
                .range(RangeRequest(key: b("c"))),  // sees the txn's own earlier write
                .deleteRange(DeleteRangeRequest(key: b("b"), prevKV: true)),
                .put(PutRequest(key: b("d"), value: b("d"), prevKV: true)),
            ],
            failure: [.put(PutRequest(key: b("fail"), value: b("x")))])
        let r = try s.txn(t, revision: 20)
        #expect(r.succeeded && r.revision == 20)
        guard case .range(let rr) = r.responses[1] else { Issue.record("not a range"); return }
        #expect(rr.kvs.first?.value == b("new") && rr.revision == 20)
        guard case .deleteRange(let dr) = r.responses[2] else { Issue.record("not a delete"); return }
        #expect(dr.deleted == 1 && dr.prevKVs.first?.value == b("x"))
        #expect(try s.get("c")?.modRevision == 20 && s.get("d")?.modRevision == 20)
        #expect(try s.get("fail") == nil)
        guard case .events(let events, _) = try s.events(key: [0], rangeEnd: [0], fromRevision: 20) else {
            Issue.record("compacted")
            return
        }
        #expect(events.map(\.sub) == [0, 1, 2], "sub revisions increase within the txn")
        #expect(events.map(\.kind) == [.put, .delete, .put])
    }

    @Test func failureBranchAndNestedTxns() throws {
        let s = try store()
        let inner = TxnRequest(
            compare: [cmp("b", .version(1), .equal)],
            success: [.put(PutRequest(key: b("inner-ok"), value: b("1")))],
            failure: [.put(PutRequest(key: b("inner-fail"), value: b("1")))])
        let t = TxnRequest(
            compare: [cmp("a", .version(99), .equal)],
            success: [.put(PutRequest(key: b("outer-ok"), value: b("1")))],
            failure: [.range(RangeRequest(key: b("a"))), .txn(inner), .put(PutRequest(key: b("after"), value: b("1")))])
        let r = try s.txn(t, revision: 30)
        #expect(!r.succeeded && r.revision == 30)
        guard case .txn(let nested) = r.responses[1] else { Issue.record("not a txn"); return }
        #expect(nested.succeeded && nested.revision == 0, "etcd leaves nested headers empty")
        #expect(try s.get("inner-ok")?.modRevision == 30)
        #expect(try s.get("after")?.modRevision == 30)
        #expect(try s.get("inner-fail") == nil && s.get("outer-ok") == nil)
        guard case .range(let rr) = r.responses[0] else { Issue.record("not a range"); return }
        #expect(rr.revision == 12, "a read before any write of the txn sees the old revision")
    }

    @Test func readOnlyTxnNeedsNoRevision() throws {
        let s = try store()
        let r = try s.txn(TxnRequest(success: [.range(RangeRequest(key: b("a")))]), revision: nil)
        #expect(r.succeeded && r.revision == 12)
        #expect(s.currentRevision == 12)
    }

    @Test func validationErrors() throws {
        let s = try store()
        let put = { (k: String) in RequestOp.put(PutRequest(key: b(k), value: b("v"))) }
        let del = { (k: String, e: [UInt8]) in RequestOp.deleteRange(DeleteRangeRequest(key: b(k), rangeEnd: e)) }
        let cases: [(TxnRequest, MVCCError)] = [
            (TxnRequest(success: [put("x"), put("x")]), .duplicateKey),
            (TxnRequest(success: [del("a", b("c")), put("b")]), .duplicateKey),
            (TxnRequest(success: [del("a", [0]), put("zzz")]), .duplicateKey),
            (TxnRequest(success: [put("x"), .txn(TxnRequest(success: [put("x")]))]), .duplicateKey),
            (TxnRequest(success: [del("x", []), .txn(TxnRequest(failure: [put("x")]))]), .duplicateKey),
            (TxnRequest(success: Array(repeating: .range(RangeRequest(key: b("a"))), count: 129)), .tooManyOperations),
            (TxnRequest(compare: [cmp("", .version(1), .equal)]), .emptyKey),
            (TxnRequest(success: [.range(RangeRequest(key: []))]), .emptyKey),
            (TxnRequest(success: [.empty]), .keyNotFound),
            (TxnRequest(success: [.put(PutRequest(key: b("a"), value: b("v"), ignoreValue: true))]), .valueProvided),
            (TxnRequest(success: [.put(PutRequest(key: b("missing"), ignoreValue: true))]), .keyNotFound),
            (TxnRequest(success: [.range(RangeRequest(key: b("a"), revision: 99))]), .futureRevision),
        ]
        for (i, (t, want)) in cases.enumerated() {
            #expect(mvccError { _ = try s.txn(t, revision: 40 + Int64(i)) } == want, "case \(i)")
        }
        #expect(s.currentRevision == 12, "rejected txns change nothing")
        // Branches of a nested txn may overlap; the two top-level branches may too.
        let ok = TxnRequest(
            success: [.txn(TxnRequest(success: [put("x")], failure: [put("x")]))], failure: [put("x")])
        #expect(try s.txn(ok, revision: 60).succeeded)
        // 128 ops is the limit, not above it.
        let many = TxnRequest(success: (0..<128).map { put("k\($0)") })
        #expect(try s.txn(many, revision: 61).responses.count == 128)
    }

    @Test func compactedRangeInsideTxn() throws {
        let s = try store()
        try s.compact(11)
        let t = TxnRequest(success: [.range(RangeRequest(key: b("a"), revision: 10))])
        #expect(mvccError { _ = try s.txn(t, revision: nil) } == .compacted)
    }
}
