import Base
import Foundation
import MVCC
import Node
import Testing

extension NodeClusterTests {
    /// A lease whose revoke began (`leaseBeginRevoke`) on a 3-node in-process cluster: gone
    /// for every observer, due for the expiry loop after the grace, still revoking after a
    /// leader change and after a restart of the whole cluster.
    @Suite struct LeaseRevokingClusterTests {
        @Test func revokingLeaseIsGoneEverywhereAndStaysSoAcrossFailoverAndRestart() async throws {
            let c = try TestCluster(ranges: 1)
            defer { c.shutdown() }
            let first = try #require(await c.systemLeader())
            let h = c.hosts[first]!
            let granted = try #require(try await h.leaseGrant(id: 41, ttl: 60))
            _ = try await h.leaseGrant(id: 42, ttl: 60)
            #expect(try await h.leaseBeginRevoke(id: 999) == nil, "unknown lease")
            let marked = try #require(try await h.leaseBeginRevoke(id: 41))
            #expect(marked.grantRevision == granted.grantRevision && marked.grantedTTL == 60)
            #expect(try await h.leaseLookup(id: 41) == nil)
            #expect(try await h.leaseKeepAlive(id: 41) == nil)
            #expect(try await h.leases().map(\.id) == [42])
            #expect(try await h.leaseGrant(id: 41, ttl: 5) == nil, "the ID stays taken while revoking")
            // Idempotent: the same grant again.
            #expect(try await h.leaseBeginRevoke(id: 41)?.grantRevision == granted.grantRevision)
            // Within the grace the expiry loop leaves it to its router; then it is due.
            var reported: [Int64] = []
            let deadline = Date().addingTimeInterval(10)  // hang bound
            while reported.isEmpty, Date() < deadline {
                reported = await h.expiredLeases()
                if reported.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(reported == [41])

            // A new leader reads the mark from the replicated state.
            let second = c.bootstrap.nodes.first { $0 != first }!
            h.transferLeadership(of: .system, to: second)
            #expect(await c.eventually(10) { c.leader(of: .system) == second })
            let h2 = c.hosts[second]!
            #expect(try await h2.leaseLookup(id: 41) == nil)
            #expect(try await h2.leaseLookup(id: 42)?.id == 42)
            #expect(try await h2.leaseBeginRevoke(id: 41)?.grantRevision == granted.grantRevision)

            // The whole cluster restarts: still revoking.
            for n in c.bootstrap.nodes { c.stop(n) }
            for n in c.bootstrap.nodes { try c.start(n) }
            let third = try #require(await c.systemLeader())
            let h3 = c.hosts[third]!
            var ids: [Int64]?
            for _ in 0..<200 where ids == nil {
                ids = try? await h3.leases().map(\.id)
                if ids == nil { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(ids == [42])
            #expect(try await h3.leaseLookup(id: 41) == nil)
            #expect(try await h3.leaseGrant(id: 41, ttl: 5) == nil)
            // Finishing it frees the ID.
            #expect(try await h3.leaseRemove(id: 41))
            #expect(try await h3.leaseBeginRevoke(id: 41) == nil)
            #expect(try await h3.leaseGrant(id: 41, ttl: 5)?.grantRevision ?? 0 > granted.grantRevision)
        }
    }
}
