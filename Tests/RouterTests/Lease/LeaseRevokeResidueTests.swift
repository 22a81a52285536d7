import API
import Base
import MVCC
import Node
@testable import Router
import Testing

/// Finding 7 residue: a revoke whose router dies after its first sweep. The revoke begins by
/// marking the lease revoking, so from then on the lease is gone for every observer, and
/// the expiry loop (or a second revoke) finishes what the dead router left.
@Suite struct LeaseRevokeResidueTests {
    /// Begins a revoke of `lease` through `router` and stops after its first sweep, as a
    /// router killed at that point would.
    static func revokeAndDieAfterTheFirstSweep(_ router: Router, _ access: any ClusterAccess, lease: Int64) async throws {
        let record = try #require(try await access.leaseBeginRevoke(id: lease))
        _ = try await router.revokeAttachedKeys(LeaseGrant(lease: lease, grantRevision: record.grantRevision))
    }

    @Test func revokeLeftAfterTheFirstSweepIsGoneAndTheExpiryLoopFinishesIt() async throws {
        let (dying, cluster) = try makeRouter()
        var config = Router.Config()
        config.requestIDSeed = 1 << 30
        let survivor = Router(access: cluster, config: config)
        let lease = try await dying.leaseGrant(id: 0, ttl: 10)
        for i in [1, 12, 25, 38] { _ = try await dying.put(PutRequest(key: key(i), value: [1], lease: lease.id)) }
        try await Self.revokeAndDieAfterTheFirstSweep(dying, cluster, lease: lease.id)
        #expect(try cluster.keysAttached(to: lease.id).isEmpty)

        // In between: gone for every observer, while the record is still there.
        #expect(try await survivor.leaseKeepAlive(id: lease.id).ttl == 0)
        #expect(try await survivor.leaseTimeToLive(id: lease.id, keys: true).ttl == -1)
        #expect(try await !survivor.leases().ids.contains(lease.id))
        await #expect(throws: EtcdError.leaseNotFound) {
            try await survivor.put(PutRequest(key: key(12), value: [2], lease: lease.id))
        }
        await #expect(throws: EtcdError.leaseNotFound) {
            try await survivor.txn(TxnRequest(success: [.put(PutRequest(key: key(3), value: [2], lease: lease.id))]))
        }
        await #expect(throws: EtcdError.leaseExists) { try await survivor.leaseGrant(id: lease.id, ttl: 5) }
        #expect(try await cluster.expiredLeases() == [lease.id], "the record stays, due for the expiry loop")
        #expect(try await survivor.range(RangeRequest(key: [0], rangeEnd: [0], countOnly: true)).count == 0)

        // The expiry loop finishes it: the record goes, the ID is free again.
        #expect(try await survivor.revokeExpiredLeases() == [lease.id])
        #expect(try await cluster.expiredLeases().isEmpty)
        #expect(try await survivor.leaseGrant(id: lease.id, ttl: 5).id == lease.id)
    }

    /// A client revoke of a lease already revoking finishes it instead of failing; once the
    /// record is gone, a revoke answers etcd's "requested lease not found".
    @Test func revokeOfARevokingLeaseFinishesIt() async throws {
        let (router, cluster) = try makeRouter()
        let lease = try await router.leaseGrant(id: 0, ttl: 10)
        _ = try await router.put(PutRequest(key: key(25), value: [1], lease: lease.id))
        _ = try #require(try await cluster.leaseBeginRevoke(id: lease.id))
        #expect(try cluster.keysAttached(to: lease.id).count == 1, "nothing swept yet")
        let revision = try await router.leaseRevoke(id: lease.id)
        #expect(revision > 0)
        #expect(try cluster.keysAttached(to: lease.id).isEmpty)
        #expect(try await cluster.expiredLeases().isEmpty)
        await #expect(throws: EtcdError.leaseNotFound) { try await router.leaseRevoke(id: lease.id) }
    }

    /// The expiry loop keeps going past a lease whose revoke fails (a range refusing the
    /// sweep): the others are finished, the failure is thrown at the end.
    @Test func expiryPassFinishesOthersWhenOneFails() async throws {
        let (router, cluster) = try makeRouter()
        let a = try await router.leaseGrant(id: 0, ttl: 10)
        let b = try await router.leaseGrant(id: 0, ttl: 10)
        _ = try await router.put(PutRequest(key: key(3), value: [1], lease: b.id))
        cluster.expire(a.id)
        cluster.expire(b.id)
        // The first lease's sweep fails (the range of k31 refuses it once, not retried); the
        // second's succeeds.
        #expect(a.id < b.id)
        cluster.inject(.rejected, into: cluster.rangeID(of: key(31)), times: 1)
        await #expect(throws: MVCCError.compacted) { try await router.revokeExpiredLeases() }
        #expect(try await cluster.expiredLeases() == [a.id], "the failed one stays due")
        #expect(try cluster.keysAttached(to: b.id).isEmpty)
        #expect(try await router.revokeExpiredLeases() == [a.id])
    }
}
