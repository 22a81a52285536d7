import API
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Proto
@testable import Server
import Testing

/// etcd's KV methods on the lean HTTP/2 path over an in-memory `SingleStoreBackend`, called by
/// the generated etcd KV client: answers and etcd's error codes/messages as through grpc-swift.
/// A hang (one, unexplained, in session 9) fails a test after 2 minutes instead of stalling the suite.
@Suite(.timeLimit(.minutes(2))) struct LeanKVServiceTests {
    static func withLeanKV(_ body: @Sendable (Etcdserverpb_KV.Client<HTTP2ClientTransport.Posix>) async throws -> Void) async throws {
        let backend = try SingleStoreBackend.inMemory()
        let run = Task { await backend.run() }
        var limits = LeanConnection.Limits()
        limits.maxRequestMessageBytes = EtcdLimits().maxReceiveMessageBytes
        let server = LeanHTTP2Server(service: LeanKVService(kv: KVService(backend: backend, cluster: backend)), limits: limits)
        let port = try await server.start(host: "127.0.0.1", port: 0)
        let client = GRPCClient(transport: try HTTP2ClientTransport.Posix(
            target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext))
        let clientRun = Task { try? await client.runConnections() }
        var failure: (any Error)?
        do { try await body(Etcdserverpb_KV.Client(wrapping: client)) } catch { failure = error }
        client.beginGracefulShutdown()
        await clientRun.value
        await server.stop()
        run.cancel()
        if let failure { throw failure }
    }

    static func put(_ key: String, _ value: String = "v") -> Etcdserverpb_PutRequest {
        var p = Etcdserverpb_PutRequest()
        p.key = Data(key.utf8)
        p.value = Data(value.utf8)
        return p
    }

    static func rpcError(_ body: () async throws -> Void) async -> RPCError? {
        do { try await body(); return nil } catch { return error as? RPCError }
    }

    @Test func putRangeDeleteTxnCompact() async throws {
        try await Self.withLeanKV { kv in
            let p1 = try await kv.put(Self.put("a", "1"))
            let p2 = try await kv.put(Self.put("b", "2"))
            #expect(p2.header.revision == p1.header.revision + 1)
            var r = Etcdserverpb_RangeRequest()
            r.key = Data("a".utf8)
            r.rangeEnd = Data("c".utf8)
            let got = try await kv.range(r)
            #expect(got.kvs.map { String(decoding: $0.value, as: UTF8.self) } == ["1", "2"])
            #expect(got.count == 2)
            var t = Etcdserverpb_TxnRequest()
            var op = Etcdserverpb_RequestOp()
            op.requestPut = Self.put("c", "3")
            t.success = [op]
            let txn = try await kv.txn(t)
            #expect(txn.succeeded)
            var d = Etcdserverpb_DeleteRangeRequest()
            d.key = Data("a".utf8)
            let deleted = try await kv.deleteRange(d)
            #expect(deleted.deleted == 1)
            var c = Etcdserverpb_CompactionRequest()
            c.revision = p2.header.revision
            let compacted = try await kv.compact(c)
            #expect(compacted.header.revision >= p2.header.revision)
        }
    }

    @Test func etcdErrorsAreUnchanged() async throws {
        try await Self.withLeanKV { kv in
            let e1 = await Self.rpcError { _ = try await kv.put(Self.put("")) }
            #expect(e1?.code == .invalidArgument)
            #expect(e1?.message == "etcdserver: key is not provided")
            let big = String(repeating: "x", count: 3 * 512 * 1024 + 1)
            let e2 = await Self.rpcError { _ = try await kv.put(Self.put("k", big)) }
            #expect(e2?.code == .invalidArgument)
            #expect(e2?.message == "etcdserver: request is too large")
            var c = Etcdserverpb_CompactionRequest()
            c.revision = 1_000
            let e3 = await Self.rpcError { _ = try await kv.compact(c) }
            #expect(e3?.code == .outOfRange)
            #expect(e3?.message == "etcdserver: mvcc: required revision is a future revision")
            // Above gRPC's receive limit: grpc-go's ResourceExhausted, as etcd answers.
            let huge = String(repeating: "x", count: EtcdLimits().maxReceiveMessageBytes + 1)
            let e4 = await Self.rpcError { _ = try await kv.put(Self.put("k", huge)) }
            #expect(e4?.code == .resourceExhausted)
        }
    }
}
