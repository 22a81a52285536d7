import Base
import Foundation
import MVCC
import Node
import Testing

extension NodeClusterTests {
    /// Lossy links and bounded WAL disk use.
    @Suite struct FaultAndGCTests {
        @Test func writesCommitOverALossyNetwork() async throws {
            let c = try TestCluster(ranges: 3)
            defer { c.shutdown() }
            c.network.setDropRate(0.2)
            for i in 0..<3 {
                for j in 0..<5 { _ = try await c.put(c.key(range: i, "lossy\(j)"), [UInt8(j)]) }
            }
            c.network.setDropRate(0)
            for n in c.hosts.keys {
                for i in 0..<3 {
                    #expect(await c.eventually { (0..<5).allSatisfy { c.value(on: n, c.key(range: i, "lossy\($0)")) == [UInt8($0)] } },
                            "node \(n) range \(i) (LocalNetwork seed 7)")
                }
            }
        }

        @Test func partitionedNodeRejoinsAfterHealing() async throws {
            let c = try TestCluster(ranges: 2)
            defer { c.shutdown() }
            #expect(await c.eventually { c.rangeIDs.allSatisfy { c.leader(of: $0) != nil } })
            let n3 = NodeID(3)
            c.network.partition(n3, NodeID(1))
            c.network.partition(n3, NodeID(2))
            // The majority side keeps (or regains) leadership of every range and serves writes.
            #expect(await c.eventually { c.rangeIDs.allSatisfy { r in
                [NodeID(1), NodeID(2)].contains { c.hosts[$0]!.isLeader(of: r) } } })
            for i in 0..<2 {
                let key = c.key(range: i, "p")
                _ = try await c.hosts[[NodeID(1), NodeID(2)].first { c.hosts[$0]!.isLeader(of: c.rangeIDs[i]) }!]!
                    .propose(.put(PutRequest(key: key, value: [4])), to: c.rangeIDs[i])
            }
            #expect(c.value(on: n3, c.key(range: 0, "p")) == nil)
            c.network.partition(n3, NodeID(1), cut: false)
            c.network.partition(n3, NodeID(2), cut: false)
            for i in 0..<2 { #expect(await c.eventually { c.value(on: n3, c.key(range: i, "p")) == [4] }) }
        }

        @Test func walDiskUseStaysBoundedUnderSteadyWrites() async throws {
            let segment = 16 << 10
            let c = try TestCluster(ranges: 2) { cfg in
                cfg.walSegmentBytes = segment
                cfg.walGCIntervalMs = 50
            }
            defer { c.shutdown() }
            let value = [UInt8](repeating: 0x5A, count: 256)
            var peak = 0
            for j in 0..<300 {
                _ = try await c.put(c.key(range: j % 2, "g\(j % 40)"), value)
                if j % 50 == 49 { peak = max(peak, c.hosts.values.map(\.walDiskBytes).max()!) }
            }
            let written = 300 * 256
            #expect(await c.eventually { c.hosts.values.allSatisfy { $0.metrics.walSegmentsDeleted > 0 } })
            // Without GC every node would hold all ~77 KiB of values plus framing.
            #expect(peak < written, "peak WAL bytes \(peak) vs \(written) written")
        }
    }
}
