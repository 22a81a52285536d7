import API
import Foundation
import GRPCCore
import MVCC
import Proto
import Testing

/// KV service behaviour beyond the error table: range options and response headers.
@Suite struct KVServiceTests {
    @Test func countOnlyKeysOnlyLimitAndSort() async throws {
        try await withEtcd(try SingleStoreBackend.inMemory()) { c in
            for (k, v) in [("r/a", "3"), ("r/b", "1"), ("r/c", "2")] { _ = try await c.kv.put(putRequest(k, v)) }
            var count = rangeRequest("r/", end: "r0")
            count.countOnly = true
            let counted = try await c.kv.range(count)
            #expect(counted.count == 3)
            #expect(counted.kvs.isEmpty)
            var keys = rangeRequest("r/", end: "r0")
            keys.keysOnly = true
            let keyed = try await c.kv.range(keys)
            #expect(keyed.kvs.map { String(decoding: $0.key, as: UTF8.self) } == ["r/a", "r/b", "r/c"])
            #expect(keyed.kvs.allSatisfy { $0.value.isEmpty })
            var sorted = rangeRequest("r/", end: "r0")
            sorted.sortTarget = .value
            sorted.sortOrder = .ascend
            sorted.limit = 2
            let s = try await c.kv.range(sorted)
            #expect(s.kvs.map { String(decoding: $0.value, as: UTF8.self) } == ["1", "2"])
            #expect(s.more)
            #expect(s.count == 3)
        }
    }

    @Test func headersCarryClusterMemberTermAndRevision() async throws {
        var config = SingleStoreBackend.Config()
        config.clusterID = 0xABC
        config.memberID = 0xDEF
        try await withEtcd(try SingleStoreBackend.inMemory(config: config)) { c in
            let put = try await c.kv.put(putRequest("h"))
            #expect(put.header.clusterID == 0xABC)
            #expect(put.header.memberID == 0xDEF)
            #expect(put.header.raftTerm == 1)
            #expect(put.header.revision == 2)  // etcd: the first write of a fresh store is revision 2
            var t = Etcdserverpb_TxnRequest()
            var op = Etcdserverpb_RequestOp()
            op.requestRange = rangeRequest("h")
            t.success = [op]
            let txn = try await c.kv.txn(t)
            #expect(txn.header.revision == 2)
            #expect(txn.responses.first?.responseRange.kvs.count == 1)
            let members = try await c.cluster.memberList(Etcdserverpb_MemberListRequest())
            #expect(members.members.map(\.id) == [0xDEF])
            #expect(members.header.clusterID == 0xABC)
        }
    }

    @Test func authAnswersUnimplemented() async throws {
        try await withEtcd(try SingleStoreBackend.inMemory()) { c in
            let e = await rpcError { _ = try await c.auth.authStatus(Etcdserverpb_AuthStatusRequest()) }
            #expect(e?.code == .unimplemented)
        }
    }
}
