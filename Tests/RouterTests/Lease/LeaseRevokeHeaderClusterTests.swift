import API
import Base
import MVCC
import Node
@testable import Router
import Testing

extension NodeClusterAccessTests {
    /// On three real NodeHosts: a revoke that deletes nothing answers a fresh header revision,
    /// never a range's last write revision — that can lie below a revision the client already
    /// saw (a linearizable read takes a fresh one), and a client's header revisions must not go
    /// back (found by the robustness harness, crash-point seed 11002: a get at 1234, then a
    /// revoke answering 1233).
    @Test func revokeOfALeaseWithoutKeysAnswersAtLeastTheRevisionsSeenBefore() async throws {
        let c = try AccessCluster(ranges: 2)
        defer { c.shutdown() }
        #expect(await c.everyRangeHasALeader())
        let node = c.hosts.keys.sorted()[0]
        let router = Router(access: c.access[node]!, config: Router.Config())
        for round in 0..<3 {
            let lease = try await router.leaseGrant(id: 0, ttl: 60)
            _ = try await router.put(PutRequest(key: Array("k\(round)".utf8), value: [1]))
            let read = try await router.range(RangeRequest(key: Array("k\(round)".utf8)))
            let revoked = try await router.leaseRevoke(id: lease.id)
            #expect(revoked >= read.revision, "round \(round): revoke answered \(revoked) after a read at \(read.revision)")
        }
    }
}
