import API
import Base
import MVCC
import Node
import Router
import Testing

/// Cluster-wide leases through the router: keys in several ranges, revoke and expiry
/// delete them all; etcd's answers for unknown leases.
@Suite struct RouterLeaseTests {
    @Test func revokeDeletesAttachedKeysInEveryRange() async throws {
        let (router, _) = try makeRouter()
        let lease = try await router.leaseGrant(id: 0, ttl: 10)
        for i in [1, 12, 25, 38] { _ = try await router.put(PutRequest(key: key(i), value: [1], lease: lease.id)) }
        _ = try await router.put(PutRequest(key: key(2), value: [2]))
        let ttl = try await router.leaseTimeToLive(id: lease.id, keys: true)
        #expect(ttl.keys == [key(1), key(12), key(25), key(38)])
        #expect(ttl.grantedTTL == 10)
        _ = try await router.leaseRevoke(id: lease.id)
        let left = try await router.range(RangeRequest(key: [0], rangeEnd: [0]))
        #expect(left.kvs.map(\.key) == [key(2)])
        #expect(try await router.leaseTimeToLive(id: lease.id, keys: true).ttl == -1)
        #expect(try await router.leases().ids.isEmpty)
    }

    /// The lease is revoked after the put's lookup and before it applies: the put re-checks
    /// the lease after applying and sweeps its range, so the key does not outlive the lease.
    @Test func putRacingARevokeLeavesNoKeyOnTheRevokedLease() async throws {
        let (router, cluster) = try makeRouter()
        let lease = try await router.leaseGrant(id: 0, ttl: 10)
        cluster.revokeBeforeNextPut(lease: lease.id)
        let put = try await router.put(PutRequest(key: key(12), value: [1], lease: lease.id))
        #expect(put.revision > 0)
        #expect(try cluster.keysAttached(to: lease.id).isEmpty, "a key stayed attached to the revoked lease")
        #expect(try await router.range(RangeRequest(key: key(12))).kvs.isEmpty)
        // The same through a txn.
        let other = try await router.leaseGrant(id: 0, ttl: 10)
        cluster.revokeBeforeNextPut(lease: other.id)
        _ = try await router.txn(TxnRequest(success: [.put(PutRequest(key: key(13), value: [1], lease: other.id))]))
        #expect(try cluster.keysAttached(to: other.id).isEmpty, "a txn's key stayed attached to the revoked lease")
    }

    /// Finding 7 (partition-leader seed 2051): the put's lookup saw the lease, the revoke ran
    /// completely, then the put applied — but every answer to the router was lost (timeouts),
    /// so it answered "request timed out" and never re-checked: the key stayed attached to the
    /// revoked lease for good. Now a put with an unknown outcome re-checks later and sweeps.
    @Test func putWithUnknownOutcomeAfterARevokeIsSweptLater() async throws {
        let cluster = try FakeCluster(splitKeys: ["k10", "k20", "k30"].map(bytes))
        var config = Router.Config()
        config.initialBackoff = .microseconds(50)
        config.maxBackoff = .microseconds(400)
        config.maxAttempts = 3
        config.retryWindow = .zero
        config.lateLeaseRecheckDelay = .milliseconds(20)
        let router = Router(access: cluster, config: config)
        let lease = try await router.leaseGrant(id: 0, ttl: 10)
        cluster.revokeBeforeNextPut(lease: lease.id)
        cluster.inject(.timeoutAfterApply, into: cluster.rangeID(of: key(12)), times: 100)
        await #expect(throws: EtcdError.timeout) {
            try await router.put(PutRequest(key: key(12), value: [1], lease: lease.id))
        }
        cluster.inject(.timeoutAfterApply, into: cluster.rangeID(of: key(12)), times: 0)
        let deadline = ContinuousClock.now + .seconds(30)  // hang bound, not a speed test
        while try !cluster.keysAttached(to: lease.id).isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try cluster.keysAttached(to: lease.id).isEmpty, "a key stayed attached to the revoked lease")
    }

    /// A put whose lookup saw the lease applies right after the revoke's first sweep of its
    /// range: the revoke's second sweep (after removing the record) deletes it.
    @Test func revokeSweepsAgainAfterRemovingTheLease() async throws {
        let (router, cluster) = try makeRouter()
        let lease = try await router.leaseGrant(id: 0, ttl: 10)
        _ = try await router.put(PutRequest(key: key(25), value: [1], lease: lease.id))
        cluster.putAfterFirstSweep(lease: lease.id, key: key(22))
        _ = try await router.leaseRevoke(id: lease.id)
        #expect(try cluster.keysAttached(to: lease.id).isEmpty, "a key stayed attached to the revoked lease")
        #expect(try await router.range(RangeRequest(key: [0], rangeEnd: [0], countOnly: true)).count == 0)
    }

    @Test func expiryLoopRevokes() async throws {
        let (router, cluster) = try makeRouter()
        let lease = try await router.leaseGrant(id: 77, ttl: 5)
        #expect(lease.id == 77)
        _ = try await router.put(PutRequest(key: key(3), value: [1], lease: 77))
        _ = try await router.put(PutRequest(key: key(31), value: [1], lease: 77))
        cluster.expire(77)
        #expect(try await router.revokeExpiredLeases() == [77])
        #expect(try await router.range(RangeRequest(key: [0], rangeEnd: [0], countOnly: true)).count == 0)
        #expect(try await router.leaseKeepAlive(id: 77).ttl == 0)
    }

    @Test func unknownLeaseGoldens() async throws {
        let (router, _) = try makeRouter()
        await #expect(throws: EtcdError.leaseNotFound) { try await router.put(PutRequest(key: key(1), value: [1], lease: 999)) }
        await #expect(throws: EtcdError.leaseNotFound) { try await router.leaseRevoke(id: 999) }
        let txn = TxnRequest(success: [.put(PutRequest(key: key(1), lease: 5))])
        await #expect(throws: EtcdError.leaseNotFound) { try await router.txn(txn) }
        #expect(EtcdError.leaseNotFound.message == "etcdserver: requested lease not found")
        #expect(EtcdError.leaseNotFound.grpcCodeName == "NotFound")
        _ = try await router.leaseGrant(id: 5, ttl: 10)
        await #expect(throws: EtcdError.leaseExists) { try await router.leaseGrant(id: 5, ttl: 10) }
    }
}

/// Regression scenario "header revision behind another node's write" (found by
/// `Tools/robustness --target flotilla --fault kill-random --seed 7`): a lease grant, lease
/// list or compaction answered on one router carried that router's own high-water mark,
/// below a write acknowledged earlier through another router. Every header must be at
/// least the revision of every write acknowledged before the request started.
@Suite struct HeaderRevisionRegressionTests {
    @Test func headersOfAnswersThatReadNothingAreFresh() async throws {
        let (router, cluster) = try makeRouter()
        var config = Router.Config()
        config.requestIDSeed = 1 << 30
        let other = Router(access: cluster, config: config)
        _ = try await router.put(PutRequest(key: key(1), value: [1]))
        var last = try await other.put(PutRequest(key: key(2), value: [2])).revision
        // Through the first router, which has not seen `other`'s write.
        let grant = try await router.leaseGrant(id: 0, ttl: 60)
        #expect(grant.revision >= last, "lease grant header \(grant.revision) < acknowledged write \(last)")
        last = try await other.put(PutRequest(key: key(3), value: [3])).revision
        let list = try await router.leases()
        #expect(list.revision >= last, "lease list header \(list.revision) < acknowledged write \(last)")
        last = try await other.put(PutRequest(key: key(4), value: [4])).revision
        let compacted = try await router.compact(revision: 2, physical: true)
        #expect(compacted.revision >= last, "compaction header \(compacted.revision) < acknowledged write \(last)")
    }
}
