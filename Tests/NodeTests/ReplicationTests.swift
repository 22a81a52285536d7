import Base
import Foundation
import MVCC
import Node
import Testing

extension NodeClusterTests {
    /// Three NodeHosts, eight ranges, real WAL and data files: writes replicate to every replica,
    /// survive restarts, and leadership moves when a node stops.
    @Suite struct ReplicationTests {
        @Test func writesThroughEveryRangeCommitOnAllReplicas() async throws {
            let c = try TestCluster()
            defer { c.shutdown() }
            #expect(await c.eventually { c.rangeIDs.allSatisfy { c.leader(of: $0) != nil } }, "every range elects")
            // Leaders are spread: the bootstrap asks node i to campaign for every third range.
            let leaderNodes = Set(c.rangeIDs.compactMap { c.leader(of: $0) })
            #expect(leaderNodes.count == 3, "leaders on \(leaderNodes)")
            var written: [[UInt8]: [UInt8]] = [:]
            var lastRevision: Int64 = 0
            for i in 0..<8 {
                for j in 0..<3 {
                    let key = c.key(range: i, "k\(j)")
                    let value = Array("v\(i)-\(j)".utf8)
                    let resp = try await c.put(key, value)
                    // Global revisions: every write (one at a time here) is above the last one,
                    // whatever its range, and comes from the oracle.
                    #expect(resp.revision > lastRevision && resp.revision <= c.oracle.lastIssued,
                            "write \(i)/\(j): revision \(resp.revision) after \(lastRevision)")
                    lastRevision = resp.revision
                    written[key] = value
                }
            }
            for node in c.bootstrap.nodes {
                #expect(await c.eventually { written.allSatisfy { c.value(on: node, $0.key) == $0.value } },
                        "node \(node) has every write")
            }
            #expect(await c.eventually { c.hosts.values.reduce(0) { $0 + $1.metrics.proposals } >= 24 },
                    "every proposal is counted (metrics refresh each tick)")
            let m = c.hosts[NodeID(1)]!.metrics
            #expect(m.fsyncs > 0 && m.entriesSynced >= m.fsyncs / 2)
            #expect(m.rangeCount == 9 && m.appliedIndex.count == 9)  // 8 user ranges + the system range
        }

        @Test func restartedNodeRecoversAndCatchesUpFromTheLog() async throws {
            let c = try TestCluster()
            defer { c.shutdown() }
            let first = (0..<8).map { c.key(range: $0, "before") }
            for k in first { _ = try await c.put(k, [1]) }
            // Stop without the final MVCC commit, like a crash: the WAL must replay the tail.
            c.stop(NodeID(3), flush: false)
            let second = (0..<8).map { c.key(range: $0, "while-down") }
            for k in second { _ = try await c.put(k, [2]) }
            try c.start(NodeID(3))
            for k in first {
                #expect(await c.eventually { c.value(on: NodeID(3), k) == [1] }, "acknowledged write \(k) survives")
            }
            for k in second {
                #expect(await c.eventually { c.value(on: NodeID(3), k) == [2] }, "write \(k) made while down arrives")
            }
        }

        @Test func stoppingTheNodeWithMostLeadersElectsNewLeaders() async throws {
            let c = try TestCluster()
            defer { c.shutdown() }
            #expect(await c.eventually { c.rangeIDs.allSatisfy { c.leader(of: $0) != nil } })
            var count: [NodeID: Int] = [:]
            for r in c.rangeIDs { if let l = c.leader(of: r) { count[l, default: 0] += 1 } }
            let victim = count.max { $0.value < $1.value }!.key
            c.stop(victim)
            #expect(await c.eventually { c.rangeIDs.allSatisfy { c.leader(of: $0) != nil } }, "all ranges re-elect")
            for i in 0..<8 {
                let key = c.key(range: i, "after")
                _ = try await c.put(key, [9])
                for n in c.hosts.keys {
                    #expect(await c.eventually { c.value(on: n, key) == [9] })
                }
            }
        }
    }
}
