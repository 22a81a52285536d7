import API
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import PeerTransport
import Proto
@testable import Server
import Synchronization
import Testing

/// The same etcd calls (good and bad) through grpc-swift-2's client against the client port on
/// `grpc` and on `lean`: every answer's gRPC code and message must be identical, on the hot KV
/// path (answered in the transport) and on bridged services alike.
/// A hang (one, unexplained, in session 9) fails a test after 2 minutes instead of stalling the suite.
@Suite(.timeLimit(.minutes(2))) struct LeanTransportParityTests {
    /// Runs `body` with a grpc-swift client connected to a client port on `transport` over an
    /// in-memory single-store backend; shuts client, port and backend down afterwards.
    static func withClient<T: Sendable>(
        transport: String, _ body: (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> T
    ) async throws -> T {
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
        let result: Result<T, any Error>
        do { result = .success(try await body(client)) } catch { result = .failure(error) }
        client.beginGracefulShutdown()
        await clientRun.value
        clientPort.beginGracefulShutdown()
        serve.cancel()
        _ = await serve.result
        return try result.get()
    }

    static func answers(transport: String) async throws -> [String] {
        try await Self.withClient(transport: transport) { client in
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
            return out
        }
    }

    /// The responses a scripted Watch stream saw (shared by its request writer, which waits for them).
    final class Seen: Sendable {
        let responses = Mutex<[Etcdserverpb_WatchResponse]>([])
        func wait(_ done: @Sendable ([Etcdserverpb_WatchResponse]) -> Bool) async throws {
            let deadline = ContinuousClock.now + .seconds(20)
            while !responses.withLock({ done($0) }), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        }
    }

    /// One Watch stream through every answer kind (created, an event, an empty range, a duplicate
    /// ID, a progress answer, a compacted start revision, a cancel, then a request that is not a
    /// WatchRequest), each step waiting for its answer so the order is fixed; then a
    /// LeaseKeepAlive stream (a granted lease, then an unknown one). Every response and each
    /// stream's final status, as text (no cluster/member IDs).
    static func streamTranscript(transport: String) async throws -> [String] {
        try await Self.withClient(transport: transport) { client in
            let kv = Etcdserverpb_KV.Client(wrapping: client)
            @Sendable func put(_ key: String, _ value: String) async throws {
                var p = Etcdserverpb_PutRequest()
                p.key = Data(key.utf8)
                p.value = Data(value.utf8)
                _ = try await kv.put(p)
            }
            @Sendable func create(_ key: String, end: String = "", id: Int64 = 0, start: Int64 = 0) -> [UInt8] {
                var r = Etcdserverpb_WatchRequest()
                r.createRequest.key = Data(key.utf8)
                r.createRequest.rangeEnd = Data(end.utf8)
                r.createRequest.watchID = id
                r.createRequest.startRevision = start
                return try! r.serializedBytes()
            }
            let seen = Seen()
            var out: [String] = []
            do {
                try await client.bidirectionalStreaming(
                    request: StreamingClientRequest(of: [UInt8].self) { writer in
                        try await writer.write(create("a"))
                        try await seen.wait { $0.contains { $0.created && $0.watchID == 0 } }
                        try await put("a", "1")
                        try await seen.wait { $0.contains { !$0.events.isEmpty } }
                        try await writer.write(create("b", end: "a"))
                        try await seen.wait { $0.contains { $0.canceled && $0.watchID == -1 } }
                        try await writer.write(create("c", id: 7))
                        try await seen.wait { $0.contains { $0.created && $0.watchID == 7 } }
                        try await writer.write(create("c", id: 7))
                        try await seen.wait { $0.filter { $0.canceled }.count == 2 }
                        var progress = Etcdserverpb_WatchRequest()
                        progress.progressRequest = .init()
                        try await writer.write(try progress.serializedBytes())
                        try await seen.wait { $0.contains { $0.watchID == -1 && !$0.created } }
                        try await put("a", "2")
                        try await put("a", "3")
                        try await seen.wait { $0.flatMap(\.events).count == 3 }
                        var compact = Etcdserverpb_CompactionRequest()
                        compact.revision = 3
                        _ = try await kv.compact(compact)
                        try await writer.write(create("a", id: 9, start: 1))
                        try await seen.wait { $0.contains { $0.compactRevision != 0 } }
                        var cancel = Etcdserverpb_WatchRequest()
                        cancel.cancelRequest.watchID = 7
                        try await writer.write(try cancel.serializedBytes())
                        try await seen.wait { $0.contains { $0.canceled && $0.watchID == 7 } }
                        try await writer.write([0xFF, 0xFF, 0xFF])  // not a WatchRequest: the server ends the stream
                        let deadline = ContinuousClock.now + .seconds(20)
                        while !Task.isCancelled, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
                    },
                    descriptor: Etcdserverpb_Watch.Method.Watch.descriptor,
                    serializer: RawBytesSerializer(), deserializer: RawBytesDeserializer(), options: .defaults
                ) { response in
                    for try await m in response.messages {
                        let r = try Etcdserverpb_WatchResponse(serializedBytes: m)
                        seen.responses.withLock { $0.append(r) }
                    }
                }
                out.append("watch end: ok")
            } catch let error as RPCError {
                out.append("watch end: \(error.code) \(error.message)")
            }
            out = seen.responses.withLock { rs in
                rs.map { r in
                    let events = r.events.map { "\($0.type) \(String(decoding: $0.kv.key, as: UTF8.self))=\(String(decoding: $0.kv.value, as: UTF8.self))@\($0.kv.modRevision)" }
                    return "watch id=\(r.watchID) rev=\(r.header.revision) created=\(r.created) canceled=\(r.canceled) "
                        + "reason=\(r.cancelReason) compact=\(r.compactRevision) events=\(events)"
                }
            } + out
            var grant = Etcdserverpb_LeaseGrantRequest()
            grant.ttl = 30
            let lease = Etcdserverpb_Lease.Client(wrapping: client)
            let granted = try await lease.leaseGrant(grant)
            let answers = Mutex<[String]>([])
            do {
                try await lease.leaseKeepAlive(request: StreamingClientRequest(of: Etcdserverpb_LeaseKeepAliveRequest.self) { writer in
                    var k = Etcdserverpb_LeaseKeepAliveRequest()
                    k.id = granted.id
                    try await writer.write(k)
                    k.id = 999
                    try await writer.write(k)
                }) { response in
                    for try await r in response.messages {
                        answers.withLock { $0.append("keepalive id=\(r.id == granted.id ? "granted" : String(r.id)) ttl=\(r.ttl)") }
                    }
                }
                out += answers.withLock { $0 } + ["keepalive end: ok"]
            } catch let error as RPCError {
                out += answers.withLock { $0 } + ["keepalive end: \(error.code) \(error.message)"]
            }
            return out
        }
    }

    /// Watch and LeaseKeepAlive (native streams on lean) answer exactly as on grpc.
    @Test func sameStreamAnswersOnGrpcAndLean() async throws {
        let grpc = try await Self.streamTranscript(transport: "grpc")
        let lean = try await Self.streamTranscript(transport: "lean")
        print("grpc vs lean stream answers:\n" + zip(grpc, lean).map { "  \($0) | \($1)" }.joined(separator: "\n"))
        #expect(grpc.count == lean.count)
        for (g, l) in zip(grpc, lean) { #expect(g == l) }
        #expect(grpc.contains { $0.contains("reason=mvcc: watcher range is empty") }, "\(grpc)")
        #expect(grpc.contains { $0.contains("compact=3") }, "\(grpc)")
        #expect(grpc.contains { $0.hasPrefix("watch end: invalidArgument") }, "\(grpc)")
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
