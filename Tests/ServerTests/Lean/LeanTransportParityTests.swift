import API
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import PeerTransport
import Proto
@testable import Server
import Testing

/// The same etcd calls (good and bad) through grpc-swift-2's client against the client port on
/// `grpc` and on `lean`: every answer's gRPC code and message must be identical, on the hot KV
/// path (answered in the transport) and on bridged services alike.
/// A hang (one, unexplained, in session 9) fails a test after 2 minutes instead of stalling the suite.
@Suite(.timeLimit(.minutes(2))) struct LeanTransportParityTests {
    static func answers(transport: String) async throws -> [String] {
        let backend = try SingleStoreBackend.inMemory()
        let run = Task { await backend.run() }
        defer { run.cancel() }
        let clientPort = try ClientPort.make(
            transport: transport, host: "127.0.0.1", port: 0, keepaliveMinTimeMs: 5_000,
            services: EtcdServer.services(kv: backend, watch: backend, lease: backend, cluster: backend, maintenance: backend))
        let serve = Task { try await clientPort.serve() }
        let port = try await clientPort.listeningPort()
        let client = GRPCClient(transport: try HTTP2ClientTransport.Posix(
            target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext))
        let clientRun = Task { try? await client.runConnections() }
        var out: [String] = []
        func record(_ name: String, _ body: () async throws -> Void) async {
            do {
                try await body()
                out.append("\(name): ok")
            } catch let error as RPCError {
                out.append("\(name): \(error.code) \(error.message)")
            } catch {
                out.append("\(name): \(type(of: error))")
            }
        }
        let kv = Etcdserverpb_KV.Client(wrapping: client)
        let lease = Etcdserverpb_Lease.Client(wrapping: client)
        func put(_ key: String, _ value: [UInt8] = [1], lease: Int64 = 0) -> Etcdserverpb_PutRequest {
            var p = Etcdserverpb_PutRequest()
            p.key = Data(key.utf8)
            p.value = Data(value)
            p.lease = lease
            return p
        }
        await record("put") { _ = try await kv.put(put("a")) }
        await record("put empty key") { _ = try await kv.put(put("")) }
        await record("put 1.6 MiB") { _ = try await kv.put(put("big", [UInt8](repeating: 7, count: 1_600_000))) }
        await record("put unknown lease") { _ = try await kv.put(put("l", lease: 999)) }
        var range = Etcdserverpb_RangeRequest()
        range.key = Data("a".utf8)
        range.revision = 1_000
        await record("range future revision") { _ = try await kv.range(range) }
        range.revision = 0
        range.sortOrder = .ascend
        range.sortTarget = .value
        await record("range sorted") { _ = try await kv.range(range) }
        var txn = Etcdserverpb_TxnRequest()
        var op = Etcdserverpb_RequestOp()
        op.requestPut = put("d")
        txn.success = [op, op]
        await record("txn duplicate keys") { _ = try await kv.txn(txn) }
        var compact = Etcdserverpb_CompactionRequest()
        compact.revision = 1_000
        await record("compact future") { _ = try await kv.compact(compact) }
        var revoke = Etcdserverpb_LeaseRevokeRequest()
        revoke.id = 4_242
        await record("lease revoke unknown") { _ = try await lease.leaseRevoke(revoke) }
        var grant = Etcdserverpb_LeaseGrantRequest()
        grant.ttl = 30
        await record("lease grant") { _ = try await lease.leaseGrant(grant) }
        await record("member list") { _ = try await Etcdserverpb_Cluster.Client(wrapping: client).memberList(.init()) }
        await record("status") { _ = try await Etcdserverpb_Maintenance.Client(wrapping: client).status(.init()) }
        await record("auth enable") { _ = try await Etcdserverpb_Auth.Client(wrapping: client).authEnable(.init()) }
        await record("unknown method") {
            _ = try await client.unary(request: ClientRequest(message: [UInt8]()),
                                       descriptor: MethodDescriptor(fullyQualifiedService: "no.Such", method: "Method"),
                                       serializer: RawBytesSerializer(), deserializer: RawBytesDeserializer(),
                                       options: .defaults) { try $0.message }
        }
        client.beginGracefulShutdown()
        await clientRun.value
        clientPort.beginGracefulShutdown()
        serve.cancel()
        _ = await serve.result
        return out
    }

    @Test func sameCodesAndMessagesOnGrpcAndLean() async throws {
        let grpc = try await Self.answers(transport: "grpc")
        let lean = try await Self.answers(transport: "lean")
        print("grpc vs lean answers:\n" + zip(grpc, lean).map { "  \($0) | \($1)" }.joined(separator: "\n"))
        #expect(grpc.count == lean.count)
        for (g, l) in zip(grpc, lean) { #expect(g == l) }
        #expect(grpc.contains { $0.hasPrefix("put empty key:") && $0.hasSuffix("etcdserver: key is not provided") }, "\(grpc)")
    }
}
