import Base
import Foundation
import MVCC
import Node
import Testing

extension NodeClusterTests {
    /// The cluster-wide lease table on a 3-node in-process cluster (50 ms ticks, 10-tick
    /// election timeout: etcd's minimum TTL is then 1 s), and lease revocation in a user range.
    @Suite struct LeaseClusterTests {
        @Test func grantLookupKeepAliveExpireRemove() async throws {
            let c = try TestCluster(ranges: 2)
            defer { c.shutdown() }
            let leader = try #require(await c.systemLeader())
            let h = c.hosts[leader]!
            let random = try #require(try await h.leaseGrant(id: 0, ttl: 0))
            #expect(random.id > 0 && random.grantedTTL == 1 && random.remainingTTL == 1)  // raised to the minimum
            let fixed = try #require(try await h.leaseGrant(id: 77, ttl: 30))
            #expect(fixed.id == 77 && fixed.grantedTTL == 30 && fixed.remainingTTL == 30)
            #expect(fixed.grantRevision > random.grantRevision && random.grantRevision > 0)
            #expect(try await h.leaseGrant(id: 77, ttl: 5) == nil)  // live: refused
            await #expect(throws: ProposalError.self) { try await h.leaseGrant(id: 78, ttl: 9_000_000_001) }
            let looked = try #require(try await h.leaseLookup(id: 77))
            #expect(looked.grantedTTL == 30 && (29...30).contains(looked.remainingTTL))
            #expect(try await h.leaseKeepAlive(id: 77)?.remainingTTL == 30)
            #expect(try await h.leases().map(\.id) == [random.id, 77].sorted())
            #expect(try await h.leaseLookup(id: 12345) == nil)
            #expect(try await h.leaseKeepAlive(id: 12345) == nil)
            // The 1 s lease runs out; nobody renewed it.
            try await Task.sleep(for: .milliseconds(1_300))
            #expect(await h.expiredLeases() == [random.id])
            #expect(try await h.leaseLookup(id: random.id) == nil)
            #expect(try await h.leaseKeepAlive(id: random.id) == nil)
            #expect(try await h.leases().first { $0.id == random.id }!.remainingTTL <= 0)
            #expect(try await h.leaseRemove(id: random.id) == true)
            #expect(try await h.leaseRemove(id: random.id) == false)
            #expect(await h.expiredLeases().isEmpty)
            // An ID freed by removal may be granted again.
            #expect(try await h.leaseGrant(id: random.id, ttl: 10) != nil)
            // Followers refuse, pointing at the leader; they list no expired leases.
            for n in c.hosts.keys where n != leader {
                await #expect(throws: ProposalError.notLeader(leaderHint: leader)) { try await c.hosts[n]!.leaseLookup(id: 77) }
                #expect(await c.hosts[n]!.expiredLeases().isEmpty)
                #expect(c.hosts[n]!.systemLeader() == leader)
            }
        }

        /// A new leader gives every lease its full TTL again (etcd extends the remaining TTL
        /// on failover); the table survives a kill of the leader without its final commit.
        @Test func failoverExtendsRemainingTTLAndKeepsTheTable() async throws {
            let c = try TestCluster(ranges: 1)
            defer { c.shutdown() }
            let first = try #require(await c.systemLeader())
            _ = try await c.hosts[first]!.leaseGrant(id: 88, ttl: 4)
            _ = try await c.hosts[first]!.leaseGrant(id: 99, ttl: 60)
            try await Task.sleep(for: .milliseconds(2_200))
            let before = try #require(try await c.hosts[first]!.leaseLookup(id: 88))
            #expect(before.remainingTTL <= 2)
            let second = c.bootstrap.nodes.first { $0 != first }!
            c.hosts[first]!.transferLeadership(of: .system, to: second)
            #expect(await c.eventually(10) { c.leader(of: .system) == second })
            let after = try #require(try await c.hosts[second]!.leaseLookup(id: 88))
            #expect(after.grantedTTL == 4 && after.remainingTTL >= 3, "remaining after failover: \(after.remainingTTL)")
            c.stop(second, flush: false)
            let third = try #require(await c.systemLeader())
            #expect(third != second)
            var ids: [Int64] = []
            for _ in 0..<100 {
                if let l = try? await c.hosts[third]!.leases() { ids = l.map(\.id); break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(ids == [88, 99])
        }

        /// Concurrent grants with ID 0 get distinct positive IDs; concurrent keep-alives of
        /// them all succeed (one confirmation round serves many callers).
        @Test func concurrentGrantsGetDistinctIDs() async throws {
            let c = try TestCluster(ranges: 1)
            defer { c.shutdown() }
            let h = c.hosts[try #require(await c.systemLeader())]!
            let ids = try await withThrowingTaskGroup(of: Int64.self) { group in
                for _ in 0..<50 { group.addTask { try await h.leaseGrant(id: 0, ttl: 60)!.id } }
                var all: [Int64] = []
                for try await id in group { all.append(id) }
                return all
            }
            #expect(Set(ids).count == 50 && ids.allSatisfy { $0 > 0 })
            let renewed = try await withThrowingTaskGroup(of: Bool.self) { group in
                for id in ids { group.addTask { try await h.leaseKeepAlive(id: id)?.remainingTTL == 60 } }
                var all: [Bool] = []
                for try await ok in group { all.append(ok) }
                return all
            }
            #expect(renewed.count == 50 && renewed.allSatisfy { $0 })
            #expect(try await h.leases().map(\.id) == ids.sorted())
        }

        @Test func revokeLeaseDeletesAttachedKeysOfTheRangeAtOneRevision() async throws {
            let c = try TestCluster(ranges: 2)
            defer { c.shutdown() }
            let range = c.rangeIDs[0]
            for batch in 0..<3 {
                let puts = (0..<100).map { i in
                    RequestOp.put(PutRequest(key: c.key(range: 0, "l5-\(batch)-\(i)"), value: [1], lease: 5))
                }
                try await c.propose(.txn(TxnRequest(success: puts)), range: range)
            }
            _ = try await c.propose(.put(PutRequest(key: c.key(range: 0, "l6"), value: [2], lease: 6)), range: range)
            _ = try await c.propose(.put(PutRequest(key: c.key(range: 0, "plain"), value: [3])), range: range)
            guard case .revokeLease(let resp) = try await c.propose(.revokeLease(5), range: range) else {
                Issue.record("unexpected result")
                return
            }
            #expect(resp.deleted == 300)
            guard case .revokeLease(let again) = try await c.propose(.revokeLease(5), range: range) else {
                Issue.record("unexpected result")
                return
            }
            #expect(again.deleted == 0 && again.revision == resp.revision)
            for n in c.hosts.keys {
                let ok = await c.eventually {
                    guard let s = c.hosts[n]?.store(for: range) else { return false }
                    return s.currentRevision == resp.revision && (try? s.keys(attachedTo: 5).isEmpty) == true
                }
                #expect(ok, "node \(n) did not apply the revocation")
                let s = c.hosts[n]!.store(for: range)!
                #expect(try s.keys(attachedTo: 6).count == 1)
                #expect(try s.range(RangeRequest(key: [0], rangeEnd: [0])).count == 2)
            }
        }
    }
}
