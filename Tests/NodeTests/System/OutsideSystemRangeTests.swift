import Base
import Node
import Testing

extension NodeClusterTests {
    /// Nodes that hold no replica of the system range (the 4th and 5th of a 5-node cluster)
    /// still get revisions: they ask the nodes they share ranges with who leads range 1.
    /// Regression for the robustness finding "5-node clusters accept no writes" (a range led
    /// by node 4 or 5 never got an oracle revision).
    @Suite struct OutsideSystemRangeTests {
        @Test func nodesWithoutTheSystemRangeGetRevisions() async throws {
            // The real oracle (the system range), not the test cluster's in-memory stand-in.
            let c = try TestCluster(nodes: 5, ranges: 8) { $0.revisionSource = nil }
            defer { c.shutdown() }
            for (_, h) in c.hosts { h.callTransport = c.network.transport(for: h.nodeID) }
            let leader = try #require(await c.systemLeader())
            var last: Int64 = 0
            for n in [NodeID(4), NodeID(5)] {
                let host = try #require(c.hosts[n])
                #expect(host.view(of: .system) == nil, "node \(n) holds no replica of range 1")
                #expect(!host.rangeIDs.isEmpty, "node \(n) hosts user ranges")
                let r = try await host.freshRevisions(count: 3)
                #expect(r.count == 3 && r.lowerBound > last, "node \(n): \(r) after \(last)")
                last = r.upperBound
                #expect(host.systemLeader() == leader, "node \(n) learned the system leader")
            }
        }
    }
}
