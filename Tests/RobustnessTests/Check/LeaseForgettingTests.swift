import Robustness
import Testing

/// Lease forgetting in the linearizability search (`LinearizabilityChecker.forgottenLeases`):
/// unknown revokes of leases nothing reads later no longer double the model states, and what
/// a revoke can change is still checked.
@Suite struct LeaseForgettingTests {
    /// Key a carries leases 1…`leases` in turn (grant, put), then a lease-less value; then an
    /// unknown revoke of every lease; then `reads` reads of the lease-less value.
    static func revokesAfterOverwrite(leases: Int, reads: Int) -> [HistoryOperation] {
        var h = HistoryBuilder()
        var rev: Int64 = 1
        var t: Int64 = 0
        for l in 1...Int64(leases) {
            rev += 1
            h.add(0, t, t + 5, .leaseGrant(ttl: 3600), .leaseGrant(revision: rev, id: l))
            rev += 1
            h.put(0, t + 10, t + 15, "a", "v\(l)", rev: rev, lease: l)
            t += 20
        }
        rev += 1
        h.put(0, t, t + 5, "a", "last", rev: rev)
        let last = rev
        for l in 1...Int64(leases) { h.add(Int(l), t + 10, nil, .leaseRevoke(id: l), .unknown(reason: "timeout")) }
        for i in 0..<Int64(reads) {
            h.get(100, t + 20 + i * 10, t + 25 + i * 10, "a", rev: last, [kv("a", "last", mod: last, create: 3, version: Int64(leases) + 1)])
        }
        return h.ops
    }

    @Test func unknownRevokesOfOverwrittenLeasesDoNotMultiplyStates() {
        // Without forgetting, 16 pending revokes make 2^16 model states per search node (by the
        // memo estimate ~30 MB each, so a 64 MiB budget would not hold the reads that follow).
        let ops = Self.revokesAfterOverwrite(leases: 16, reads: 20)
        let checker = LinearizabilityChecker(budget: CheckBudget(steps: 1_000_000, time: .seconds(60), memoryBytes: 64 << 20))
        let verdict = checker.check(ops)
        #expect(verdict.isLinearizable, "\(verdict)")
    }

    @Test func aRevokedLeaseStillDeletesItsKeyForGood() {
        // a carries lease 7; an unknown revoke of 7; a read sees a gone, a later read sees it
        // back at its old revision: illegal whether or not the lease is forgotten.
        var h = HistoryBuilder()
        h.add(0, 0, 5, .leaseGrant(ttl: 3600), .leaseGrant(revision: 2, id: 7))
        h.put(0, 10, 15, "a", "x", rev: 3, lease: 7)
        h.add(1, 20, nil, .leaseRevoke(id: 7), .unknown(reason: "timeout"))
        h.get(2, 30, 35, "a", rev: 4, [])
        h.get(2, 40, 45, "a", rev: 4, [kv("a", "x", mod: 3, lease: 7)])
        #expect(!LinearizabilityChecker().check(h.ops).isLinearizable)
        #expect(!LinearizabilityChecker(revokePerRange: true).check(h.ops).isLinearizable)
    }

    @Test func aPutOnTheLeaseAfterTheRevokeKeepsTheLease() {
        // The revoke took effect (the read saw a deleted), so the put on lease 7 that was called
        // after the read returned must fail; it succeeded: illegal. The put reads lease 7 after
        // the revoke's call, so the lease is not forgotten.
        var h = HistoryBuilder()
        h.add(0, 0, 5, .leaseGrant(ttl: 3600), .leaseGrant(revision: 2, id: 7))
        h.put(0, 10, 15, "a", "x", rev: 3, lease: 7)
        h.add(1, 20, nil, .leaseRevoke(id: 7), .unknown(reason: "timeout"))
        h.get(2, 30, 35, "a", rev: 4, [])
        h.put(2, 40, 45, "a", "y", rev: 5, lease: 7)
        #expect(!LinearizabilityChecker().check(h.ops).isLinearizable)
        // Legal when the put was refused instead.
        var ok = h
        ok.ops[4].output = .failed(code: "notFound", message: "etcdserver: requested lease not found")
        #expect(LinearizabilityChecker().check(ok.ops).isLinearizable)
    }
}
