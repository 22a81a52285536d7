import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Proto

/// A gRPC connection to one node's etcd API ("127.0.0.1:port") with the generated KV,
/// Watch and Lease clients, for the guarantee and process tests. Owns the client's connection task; `close()`
/// ends it. Reconnects quickly so a restarted node is used again at once.
final class EtcdTestEndpoint: Sendable {
    typealias Transport = HTTP2ClientTransport.Posix
    let address: String
    let kv: Etcdserverpb_KV.Client<Transport>
    let watch: Etcdserverpb_Watch.Client<Transport>
    let lease: Etcdserverpb_Lease.Client<Transport>
    let client: GRPCClient<Transport>
    let runner: Task<Void, Never>

    init(port: Int) throws {
        address = "127.0.0.1:\(port)"
        let transport = try HTTP2ClientTransport.Posix(
            target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext,
            config: .defaults { c in
                c.backoff = .init(initial: .milliseconds(50), max: .milliseconds(500), multiplier: 1.6, jitter: 0.2)
            })
        let client = GRPCClient(transport: transport)
        self.client = client
        kv = .init(wrapping: client)
        watch = .init(wrapping: client)
        lease = .init(wrapping: client)
        runner = Task { try? await client.runConnections() }
    }

    static func options(_ timeout: Duration) -> CallOptions {
        var o = CallOptions.defaults
        o.timeout = timeout
        return o
    }

    func put(_ key: [UInt8], _ value: [UInt8], timeout: Duration = .seconds(5)) async throws -> Int64 {
        var r = Etcdserverpb_PutRequest()
        r.key = Data(key)
        r.value = Data(value)
        let resp = try await kv.put(request: .init(message: r), options: Self.options(timeout)) { try $0.message }
        return resp.header.revision
    }

    /// LeaseGrant with a chosen ID; returns the granted ID (throws etcd's "lease already
    /// exists" while a lease with that ID is recorded, revoking or not).
    func grantLease(id: Int64, ttl: Int64, timeout: Duration = .seconds(5)) async throws -> Int64 {
        var r = Etcdserverpb_LeaseGrantRequest()
        r.id = id
        r.ttl = ttl
        let resp = try await lease.leaseGrant(request: .init(message: r), options: Self.options(timeout)) { try $0.message }
        return resp.id
    }

    /// A linearizable read of every key (`[0x00, ∞)`): the header revision and the state.
    func readAll(timeout: Duration = .seconds(10)) async throws -> (revision: Int64, state: [[UInt8]: KVState]) {
        var r = Etcdserverpb_RangeRequest()
        r.key = Data([0])
        r.rangeEnd = Data([0])
        let resp = try await kv.range(request: .init(message: r), options: Self.options(timeout)) { try $0.message }
        var state: [[UInt8]: KVState] = [:]
        for kv in resp.kvs { state[[UInt8](kv.key)] = KVState(value: [UInt8](kv.value), modRevision: kv.modRevision) }
        return (resp.header.revision, state)
    }

    func close() {
        client.beginGracefulShutdown()
        runner.cancel()
    }

    /// Whether an error means "the write may or may not have applied".
    static func isDefiniteRefusal(_ error: any Error) -> Bool {
        guard let e = error as? RPCError else { return false }
        switch e.code {
        case .invalidArgument, .failedPrecondition, .outOfRange, .notFound, .alreadyExists, .permissionDenied:
            return true
        default:
            return false
        }
    }
}
