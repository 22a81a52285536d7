import API
import Foundation
import GRPCCore
import MVCC
import Proto
import Testing

/// Golden tests: every KV row of etcd-behaviour.md's error table, through the gRPC service
/// (code and exact message).
@Suite struct KVErrorTableTests {
    static func backend() throws -> SingleStoreBackend { try SingleStoreBackend.inMemory() }

    @Test func requestLargerThanMaxRequestBytesIsTooLarge() async throws {
        try await withEtcd(try Self.backend()) { c in
            let big = String(repeating: "x", count: 3 * 512 * 1024 + 1)
            let e = await rpcError { _ = try await c.kv.put(putRequest("k", big)) }
            #expect(e?.code == .invalidArgument)
            #expect(e?.message == "etcdserver: request is too large")
            var t = Etcdserverpb_TxnRequest()
            var op = Etcdserverpb_RequestOp()
            op.requestPut = putRequest("k", big)
            t.success = [op]
            let e2 = await rpcError { _ = try await c.kv.txn(t) }
            #expect(e2?.code == .invalidArgument)
            #expect(e2?.message == "etcdserver: request is too large")
            // Just below the limit is accepted.
            _ = try await c.kv.put(putRequest("k", String(repeating: "x", count: 3 * 512 * 1024 - 100)))
        }
    }

    @Test func emptyKeyInRangePutDeleteAndCompare() async throws {
        try await withEtcd(try Self.backend()) { c in
            let msg = "etcdserver: key is not provided"
            let e1 = await rpcError { _ = try await c.kv.range(rangeRequest("")) }
            let e2 = await rpcError { _ = try await c.kv.put(putRequest("")) }
            let e3 = await rpcError { _ = try await c.kv.deleteRange(Etcdserverpb_DeleteRangeRequest()) }
            var t = Etcdserverpb_TxnRequest()
            var cmp = Etcdserverpb_Compare()
            cmp.target = .version
            cmp.version = 0
            t.compare = [cmp]
            let e4 = await rpcError { _ = try await c.kv.txn(t) }
            for e in [e1, e2, e3, e4] {
                #expect(e?.code == .invalidArgument)
                #expect(e?.message == msg)
            }
        }
    }

    @Test func rangeEndNotAboveKeyIsEmptyNotAnError() async throws {
        try await withEtcd(try Self.backend()) { c in
            _ = try await c.kv.put(putRequest("b"))
            let r = try await c.kv.range(rangeRequest("b", end: "a"))
            #expect(r.kvs.isEmpty)
            #expect(r.count == 0)
            var d = Etcdserverpb_DeleteRangeRequest()
            d.key = Data("b")
            d.rangeEnd = Data("b")
            let dr = try await c.kv.deleteRange(d)
            #expect(dr.deleted == 0)
            #expect(try await c.kv.range(rangeRequest("b")).count == 1)
        }
    }

    @Test func rangeEndZeroByteMeansEveryKeyFromKey() async throws {
        try await withEtcd(try Self.backend()) { c in
            for k in ["a", "b", "c", "zz"] { _ = try await c.kv.put(putRequest(k)) }
            var r = rangeRequest("b")
            r.rangeEnd = Data([0])
            let resp = try await c.kv.range(r)
            #expect(resp.kvs.map { String(decoding: $0.key, as: UTF8.self) } == ["b", "c", "zz"])
            // A prefix is key .. key with its last byte + 1.
            let prefix = try await c.kv.range(rangeRequest("z", end: "{"))
            #expect(prefix.count == 1)
        }
    }

    @Test func unknownSortOrderOrTargetIsInvalidSortOption() async throws {
        try await withEtcd(try Self.backend()) { c in
            var r = rangeRequest("a")
            r.sortOrder = .UNRECOGNIZED(7)
            let e1 = await rpcError { _ = try await c.kv.range(r) }
            var r2 = rangeRequest("a")
            r2.sortTarget = .UNRECOGNIZED(9)
            let e2 = await rpcError { _ = try await c.kv.range(r2) }
            for e in [e1, e2] {
                #expect(e?.code == .invalidArgument)
                #expect(e?.message == "etcdserver: invalid sort option")
            }
        }
    }

    @Test func ignoreValueAndIgnoreLease() async throws {
        try await withEtcd(try Self.backend()) { c in
            var p = putRequest("k", "v")
            p.ignoreValue = true
            let e1 = await rpcError { _ = try await c.kv.put(p) }
            #expect(e1?.code == .invalidArgument)
            #expect(e1?.message == "etcdserver: value is provided")
            var q = putRequest("k", "")
            q.ignoreLease = true
            q.lease = 5
            let e2 = await rpcError { _ = try await c.kv.put(q) }
            #expect(e2?.code == .invalidArgument)
            #expect(e2?.message == "etcdserver: lease is provided")
            // On a missing key.
            var m = putRequest("missing", "")
            m.ignoreValue = true
            let e3 = await rpcError { _ = try await c.kv.put(m) }
            var n = putRequest("missing", "x")
            n.ignoreLease = true
            let e4 = await rpcError { _ = try await c.kv.put(n) }
            for e in [e3, e4] {
                #expect(e?.code == .invalidArgument)
                #expect(e?.message == "etcdserver: key not found")
            }
            // On an existing key ignore_value keeps the value.
            _ = try await c.kv.put(putRequest("k", "old"))
            var keep = putRequest("k", "")
            keep.ignoreValue = true
            _ = try await c.kv.put(keep)
            #expect(try await c.kv.range(rangeRequest("k")).kvs.first?.value == Data("old"))
        }
    }

    static func putOp(_ k: String) -> Etcdserverpb_RequestOp {
        var op = Etcdserverpb_RequestOp()
        op.requestPut = putRequest(k)
        return op
    }

    @Test(arguments: ["compare", "success", "failure"])
    func txnWithMoreThan128Ops(branch: String) async throws {
        try await withEtcd(try Self.backend()) { c in
            var t = Etcdserverpb_TxnRequest()
            switch branch {
            case "compare":
                t.compare = (0..<129).map { i in
                    var cmp = Etcdserverpb_Compare()
                    cmp.key = Data("k\(i)")
                    cmp.target = .version
                    cmp.version = 0
                    return cmp
                }
            case "success": t.success = (0..<129).map { Self.putOp("k\($0)") }
            default: t.failure = (0..<129).map { Self.putOp("k\($0)") }
            }
            let e = await rpcError { _ = try await c.kv.txn(t) }
            #expect(e?.code == .invalidArgument, "branch \(branch)")
            #expect(e?.message == "etcdserver: too many operations in txn request")
            // 128 is fine.
            var ok = Etcdserverpb_TxnRequest()
            ok.success = (0..<128).map { Self.putOp("k\($0)") }
            let succeeded = try await c.kv.txn(ok).succeeded
            #expect(succeeded)
        }
    }

    @Test func txnDuplicateKeys() async throws {
        try await withEtcd(try Self.backend()) { c in
            let msg = "etcdserver: duplicate key given in txn request"
            var twice = Etcdserverpb_TxnRequest()
            twice.success = [Self.putOp("a"), Self.putOp("a")]
            var del = Etcdserverpb_RequestOp()
            del.requestDeleteRange.key = Data("a")
            del.requestDeleteRange.rangeEnd = Data("c")
            var putInDelete = Etcdserverpb_TxnRequest()
            putInDelete.success = [del, Self.putOp("b")]
            var nested = Etcdserverpb_TxnRequest()
            var inner = Etcdserverpb_RequestOp()
            inner.requestTxn.success = [Self.putOp("b")]
            nested.success = [del, inner]
            for t in [twice, putInDelete, nested] {
                let e = await rpcError { _ = try await c.kv.txn(t) }
                #expect(e?.code == .invalidArgument)
                #expect(e?.message == msg)
            }
            // The two branches may overlap.
            var branches = Etcdserverpb_TxnRequest()
            branches.success = [Self.putOp("a")]
            branches.failure = [Self.putOp("a")]
            let succeeded = try await c.kv.txn(branches).succeeded
            #expect(succeeded)
        }
    }

    @Test func readsAtCompactedFutureAndNonPositiveRevisions() async throws {
        try await withEtcd(try Self.backend()) { c in
            var last: Int64 = 0
            for i in 0..<5 { last = try await c.kv.put(putRequest("k", "v\(i)")).header.revision }
            var compact = Etcdserverpb_CompactionRequest()
            compact.revision = last - 1
            _ = try await c.kv.compact(compact)
            let e1 = await rpcError { _ = try await c.kv.range(rangeRequest("k", revision: last - 2)) }
            #expect(e1?.code == .outOfRange)
            #expect(e1?.message == "etcdserver: mvcc: required revision has been compacted")
            let e2 = await rpcError { _ = try await c.kv.range(rangeRequest("k", revision: last + 1)) }
            #expect(e2?.code == .outOfRange)
            #expect(e2?.message == "etcdserver: mvcc: required revision is a future revision")
            for rev: Int64 in [0, -3] {
                let r = try await c.kv.range(rangeRequest("k", revision: rev))
                #expect(r.header.revision == last)
                #expect(r.kvs.first?.value == Data("v4"))
            }
            // Compact at <= compacted / > current.
            let e3 = await rpcError { _ = try await c.kv.compact(compact) }
            #expect(e3?.code == .outOfRange)
            #expect(e3?.message == "etcdserver: mvcc: required revision has been compacted")
            compact.revision = last + 10
            let e4 = await rpcError { _ = try await c.kv.compact(compact) }
            #expect(e4?.code == .outOfRange)
            #expect(e4?.message == "etcdserver: mvcc: required revision is a future revision")
        }
    }

    @Test func noSpaceAlarmRejectsWritesButNotReadsOrDeletes() async throws {
        try await withEtcd(try Self.backend()) { c in
            _ = try await c.kv.put(putRequest("a"))
            var alarm = Etcdserverpb_AlarmRequest()
            alarm.action = .activate
            alarm.alarm = .nospace
            _ = try await c.maintenance.alarm(alarm)
            let e = await rpcError { _ = try await c.kv.put(putRequest("b")) }
            #expect(e?.code == .resourceExhausted)
            #expect(e?.message == "etcdserver: mvcc: database space exceeded")
            var t = Etcdserverpb_TxnRequest()
            t.success = [Self.putOp("b")]
            let e2 = await rpcError { _ = try await c.kv.txn(t) }
            #expect(e2?.code == .resourceExhausted)
            #expect(try await c.kv.range(rangeRequest("a")).count == 1)
            var d = Etcdserverpb_DeleteRangeRequest()
            d.key = Data("a")
            #expect(try await c.kv.deleteRange(d).deleted == 1)
            var get = Etcdserverpb_AlarmRequest()
            get.action = .get
            #expect(try await c.maintenance.alarm(get).alarms.map(\.alarm) == [.nospace])
            alarm.action = .deactivate
            _ = try await c.maintenance.alarm(alarm)
            _ = try await c.kv.put(putRequest("b"))
        }
    }
}
