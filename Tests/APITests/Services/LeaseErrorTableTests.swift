import API
import Foundation
import GRPCCore
import MVCC
import Proto
import Testing

/// Golden tests: the Lease rows of etcd-behaviour.md's error table, with a manual clock.
@Suite struct LeaseErrorTableTests {
    static func grant(_ c: EtcdClients, ttl: Int64, id: Int64 = 0) async throws -> Etcdserverpb_LeaseGrantResponse {
        var g = Etcdserverpb_LeaseGrantRequest()
        g.ttl = ttl
        g.id = id
        return try await c.lease.leaseGrant(g)
    }

    static func keepAlive(_ c: EtcdClients, _ id: Int64) async throws -> Etcdserverpb_LeaseKeepAliveResponse? {
        var request = Etcdserverpb_LeaseKeepAliveRequest()
        request.id = id
        let req = request
        return try await c.lease.leaseKeepAlive(request: StreamingClientRequest { w in try await w.write(req) }) { resp in
            var last: Etcdserverpb_LeaseKeepAliveResponse?
            for try await m in resp.messages { last = m }
            return last
        }
    }

    static func timeToLive(_ c: EtcdClients, _ id: Int64, keys: Bool = false) async throws -> Etcdserverpb_LeaseTimeToLiveResponse {
        var req = Etcdserverpb_LeaseTimeToLiveRequest()
        req.id = id
        req.keys = keys
        return try await c.lease.leaseTimeToLive(req)
    }

    @Test func putWithUnknownOrExpiredLeaseIsNotFound() async throws {
        let clock = ManualLeaseClock()
        try await withEtcd(try SingleStoreBackend.inMemory(clock: clock)) { c in
            let e = await rpcError { _ = try await c.kv.put(putRequest("k", lease: 12345)) }
            #expect(e?.code == .notFound)
            #expect(e?.message == "etcdserver: requested lease not found")
            let l = try await Self.grant(c, ttl: 5)
            _ = try await c.kv.put(putRequest("k", lease: l.id))
            clock.advance(by: .seconds(6))
            let e2 = await rpcError { _ = try await c.kv.put(putRequest("k2", lease: l.id)) }
            #expect(e2?.code == .notFound)
            #expect(e2?.message == "etcdserver: requested lease not found")
        }
    }

    @Test func revokeOfUnknownLeaseIsNotFound() async throws {
        try await withEtcd(try SingleStoreBackend.inMemory()) { c in
            var r = Etcdserverpb_LeaseRevokeRequest()
            r.id = 777
            let e = await rpcError { _ = try await c.lease.leaseRevoke(r) }
            #expect(e?.code == .notFound)
            #expect(e?.message == "etcdserver: requested lease not found")
        }
    }

    @Test func keepAliveAndTimeToLiveOfExpiredLease() async throws {
        let clock = ManualLeaseClock()
        try await withEtcd(try SingleStoreBackend.inMemory(clock: clock)) { c in
            let l = try await Self.grant(c, ttl: 10)
            clock.advance(by: .seconds(4))
            #expect(try await Self.keepAlive(c, l.id)?.ttl == 10)
            clock.advance(by: .seconds(3))
            let live = try await Self.timeToLive(c, l.id)
            #expect(live.ttl == 7)
            #expect(live.grantedTtl == 10)
            clock.advance(by: .seconds(11))
            #expect(try await Self.keepAlive(c, l.id)?.ttl == 0)
            let ttl = try await Self.timeToLive(c, l.id)
            #expect(ttl.ttl == -1)
            #expect(ttl.id == l.id)
            // Unknown leases answer the same.
            #expect(try await Self.keepAlive(c, 424242)?.ttl == 0)
            #expect(try await Self.timeToLive(c, 424242).ttl == -1)
        }
    }

    @Test func grantLimits() async throws {
        try await withEtcd(try SingleStoreBackend.inMemory()) { c in
            let e = await rpcError { _ = try await Self.grant(c, ttl: 9_000_000_001) }
            #expect(e?.code == .outOfRange)
            #expect(e?.message == "etcdserver: too large lease TTL")
            _ = try await Self.grant(c, ttl: 9_000_000_000, id: 99)
            let e2 = await rpcError { _ = try await Self.grant(c, ttl: 60, id: 99) }
            #expect(e2?.code == .failedPrecondition)
            #expect(e2?.message == "etcdserver: lease already exists")
            // Below the minimum: raised silently (2 s for the default 1 s election timeout).
            let low = try await Self.grant(c, ttl: 1)
            #expect(low.ttl == 2)
            #expect(low.id != 0)
            let other = try await Self.grant(c, ttl: 1)
            #expect(other.id != low.id)
        }
    }

    @Test func revokeAndExpiryDeleteAttachedKeys() async throws {
        let clock = ManualLeaseClock()
        let backend = try SingleStoreBackend.inMemory(clock: clock)
        try await withEtcd(backend) { c in
            let a = try await Self.grant(c, ttl: 30)
            let b = try await Self.grant(c, ttl: 5)
            for k in ["a1", "a2"] { _ = try await c.kv.put(putRequest(k, lease: a.id)) }
            _ = try await c.kv.put(putRequest("b1", lease: b.id))
            _ = try await c.kv.put(putRequest("free"))
            let ttl = try await Self.timeToLive(c, a.id, keys: true)
            #expect(ttl.keys == [Data("a1"), Data("a2")])
            var revoke = Etcdserverpb_LeaseRevokeRequest()
            revoke.id = a.id
            _ = try await c.lease.leaseRevoke(revoke)
            #expect(try await c.kv.range(rangeRequest("a", end: "b")).count == 0)
            clock.advance(by: .seconds(6))
            #expect(try backend.revokeExpiredLeases() == [b.id])
            #expect(try await c.kv.range(rangeRequest("b1")).count == 0)
            #expect(try await c.kv.range(rangeRequest("free")).count == 1)
            #expect(try await c.lease.leaseLeases(Etcdserverpb_LeaseLeasesRequest()).leases.isEmpty)
        }
    }
}

/// The error rows the one-store backend cannot produce (Raft, auth, corruption): the
/// mapping from `EtcdError` to gRPC code and message is checked directly.
@Suite struct ErrorMappingTests {
    @Test(arguments: [
        (EtcdError.tooManyRequests, RPCError.Code.resourceExhausted, "etcdserver: too many requests"),
        (.noLeader, .unavailable, "etcdserver: no leader"),
        (.timeout, .unavailable, "etcdserver: request timed out"),
        (.leaderChanged, .unavailable, "etcdserver: leader changed"),
        (.invalidAuthToken, .unauthenticated, "etcdserver: invalid auth token"),
        (.permissionDenied, .permissionDenied, "etcdserver: permission denied"),
        (.corrupt, .dataLoss, "etcdserver: corrupt cluster"),
        (.noSpace, .resourceExhausted, "etcdserver: mvcc: database space exceeded"),
        (.requestTooLarge, .invalidArgument, "etcdserver: request is too large"),
        (.leaseNotFound, .notFound, "etcdserver: requested lease not found"),
        (.leaseExists, .failedPrecondition, "etcdserver: lease already exists"),
        (.leaseTTLTooLarge, .outOfRange, "etcdserver: too large lease TTL"),
    ])
    func etcdErrors(error: EtcdError, code: RPCError.Code, message: String) {
        let e = ErrorMapping.rpcError(error)
        #expect(e.code == code)
        #expect(e.message == message)
    }

    @Test func mvccErrorsKeepTheirMessage() {
        let e = ErrorMapping.rpcError(MVCCError.compacted)
        #expect(e.code == .outOfRange)
        #expect(e.message == "etcdserver: mvcc: required revision has been compacted")
        #expect(ErrorMapping.rpcError(MVCCError.futureRevision).code == .outOfRange)
        #expect(ErrorMapping.rpcError(MVCCError.keyNotFound).code == .invalidArgument)
    }
}
