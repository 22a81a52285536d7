import Base
import Foundation
import MVCC
import Node
import Testing

extension NodeClusterTests {
    /// Idle ranges stop ticking and wake on demand; node-level liveness wakes ranges whose
    /// leader's node died.
    @Suite struct QuiescenceTests {
        func quiescedEverywhere(_ c: TestCluster, _ range: RangeID) -> Bool {
            c.hosts.values.allSatisfy { $0.isQuiesced(range) }
        }

        @Test func idleRangesQuiesceAndWakeOnAProposal() async throws {
            let c = try TestCluster()
            defer { c.shutdown() }
            for i in 0..<8 { _ = try await c.put(c.key(range: i, "x"), [1]) }
            #expect(await c.eventually { c.rangeIDs.allSatisfy { quiescedEverywhere(c, $0) } },
                    "all 8 ranges quiesce on all 3 nodes")
            let counted = await c.eventually {
                c.hosts.values.allSatisfy { $0.metrics.quiescedCount == 9 }  // 8 user ranges + the system range
            }
            #expect(counted, "metrics count 9 quiesced ranges per node")
            // Quiesced ranges make no Raft traffic: the applied index stays put while idle.
            let range = c.rangeIDs[3]
            let before = c.hosts[NodeID(1)]!.raftStatus(of: range)!.hardState
            try await Task.sleep(for: .milliseconds(300))
            #expect(c.hosts[NodeID(1)]!.raftStatus(of: range)!.hardState == before)
            // A proposal wakes the range, commits, and it quiesces again.
            _ = try await c.put(c.key(range: 3, "y"), [2])
            for n in c.hosts.keys { #expect(await c.eventually { c.value(on: n, c.key(range: 3, "y")) == [2] }) }
            #expect(await c.eventually { quiescedEverywhere(c, range) }, "re-quiesces after the write")
        }

        @Test func quiescedRangeWhoseLeaderNodeStopsElectsANewLeader() async throws {
            let c = try TestCluster(ranges: 3)
            defer { c.shutdown() }
            for i in 0..<3 { _ = try await c.put(c.key(range: i, "x"), [1]) }
            #expect(await c.eventually { c.rangeIDs.allSatisfy { quiescedEverywhere(c, $0) } })
            let range = c.rangeIDs[0]
            let oldLeader = try #require(c.leader(of: range))
            c.stop(oldLeader)
            #expect(await c.eventually { c.leader(of: range) != nil && c.leader(of: range) != oldLeader },
                    "survivors notice the dead node and elect")
            _ = try await c.put(c.key(range: 0, "after"), [3])
            for n in c.hosts.keys { #expect(await c.eventually { c.value(on: n, c.key(range: 0, "after")) == [3] }) }
        }
    }
}
