import Base
import Foundation
import MVCC
import Node
import Testing

extension NodeClusterTests {
    /// Range replicas can be removed and created cleanly, and that survives a restart.
    @Suite struct RangeLifecycleTests {
        @Test func leadershipMovesOnRequest() async throws {
            let c = try TestCluster(ranges: 1)
            defer { c.shutdown() }
            let range = c.rangeIDs[0]
            #expect(await c.eventually { c.leader(of: range) != nil })
            let old = c.leader(of: range)!
            let target = c.hosts.keys.sorted().first { $0 != old }!
            _ = try await c.put([0x42], [1])
            c.hosts[old]!.transferLeadership(of: range, to: target)
            #expect(await c.eventually { c.leader(of: range) == target }, "leader moved from \(old) to \(target)")
            _ = try await c.put([0x43], [2])
            for n in c.hosts.keys { #expect(await c.eventually { c.value(on: n, [0x43]) == [2] }) }
        }

        @Test func removedRangeIsGoneAndANewRangeServesItsKeys() async throws {
            let c = try TestCluster(ranges: 2)
            defer { c.shutdown() }
            let old = c.rangeIDs[1]
            let key = c.key(range: 1, "a")
            _ = try await c.put(key, [1])
            let span = c.bootstrap.descriptors[1]
            for h in c.hosts.values { try h.removeReplica(old) }
            for h in c.hosts.values {
                #expect(h.store(for: old) == nil)
                await #expect(throws: ProposalError.rangeNotFound(old)) { try await h.propose(.noOp, to: old) }
            }
            #expect(throws: NodeHost.ReplicaLifecycleError.notFound(old)) { try c.hosts[NodeID(1)]!.removeReplica(old) }

            // A new range over the same span starts empty (the old segment was dropped).
            var fresh = span
            fresh.rangeID = RangeID(50)
            for (n, h) in c.hosts { try h.createReplica(fresh, campaign: n == NodeID(2)) }
            #expect(throws: NodeHost.ReplicaLifecycleError.alreadyExists(fresh.rangeID)) {
                try c.hosts[NodeID(1)]!.createReplica(fresh)
            }
            #expect(try c.hosts[NodeID(1)]!.store(for: fresh.rangeID)?.range(RangeRequest(key: key)).kvs.isEmpty == true)
            _ = try await c.propose(.put(PutRequest(key: key, value: [2])), range: fresh.rangeID)
            for n in c.hosts.keys {
                #expect(await c.eventually { c.hosts[n]?.store(for: fresh.rangeID).flatMap { try? $0.range(RangeRequest(key: key)) }?.kvs.first?.value == [2] })
            }
            // After a restart the node has the new range and not the old one.
            c.stop(NodeID(1))
            try c.start(NodeID(1))
            let ids = c.hosts[NodeID(1)]!.rangeIDs
            #expect(ids.contains(fresh.rangeID) && !ids.contains(old), "ranges after restart: \(ids)")
            #expect(await c.eventually { c.hosts[NodeID(1)]?.store(for: fresh.rangeID).flatMap { try? $0.range(RangeRequest(key: key)) }?.kvs.first?.value == [2] })
        }
    }
}
