import Base
import Foundation
import MVCC
@testable import Node
import Testing

extension NodeClusterTests {
    /// The system range's store lives in the reserved `system.*` buckets; a replica that was
    /// down while the logs were truncated catches up by snapshot into those buckets, not
    /// into the user ranges' ones.
    @Suite struct SystemSnapshotTests {
        @Test func laggingSystemReplicaCatchesUpIntoTheReservedBuckets() async throws {
            let c = try TestCluster(ranges: 2) { cfg in
                cfg.walSegmentBytes = 16 << 10
                cfg.walGCIntervalMs = 50
            }
            defer { c.shutdown() }
            let leader = try #require(await c.systemLeader())
            let lagging = c.bootstrap.nodes.last { $0 != leader }!
            _ = try await c.hosts[leader]!.leaseGrant(id: 1, ttl: 600)
            #expect(await c.eventually { c.hosts[lagging]!.raftStatus(of: .system)!.applied >= c.hosts[leader]!.raftStatus(of: .system)!.applied })
            let stoppedAt = c.hosts[lagging]!.raftStatus(of: .system)!.applied
            c.stop(lagging)
            let value = [UInt8](repeating: 0xCD, count: 512)
            for j in 0..<200 {
                _ = try await c.put(c.key(range: 0, "k\(j)"), value)
                if j % 2 == 0 { _ = try await c.hosts[leader]!.leaseGrant(id: Int64(100 + j), ttl: 600) }
            }
            #expect(await c.eventually { c.hosts.values.allSatisfy { $0.metrics.walSegmentsDeleted > 0 } })
            // The leader's log of range 1 no longer holds what the lagging replica misses.
            let truncated = await c.eventually { (c.hosts[leader]!.wal.bounds(of: .system)?.first ?? 0) > stoppedAt + 1 }
            #expect(truncated, "range 1's log starts at \(String(describing: c.hosts[leader]!.wal.bounds(of: .system)))")
            try c.start(lagging)
            let leaseKeys = RangeRequest(key: Array("lease/".utf8), rangeEnd: Array("lease0".utf8), countOnly: true)
            let caughtUp = await c.eventually {
                (try? c.hosts[lagging]?.store(for: .system)?.range(leaseKeys).count) == 101
            }
            #expect(caughtUp, "the lagging node's system range holds all 101 leases")
            #expect(await c.eventually { c.hosts[lagging]!.metrics.snapshotsReceived >= 2 }, "both ranges caught up by snapshot")
            let userRange = RangeRequest(key: [0], rangeEnd: [0], countOnly: true)
            #expect(await c.eventually { (try? c.hosts[lagging]!.store(for: c.rangeIDs[0])!.range(userRange).count) == 200 })
            // The user ranges hold exactly the user keys: no system record leaked into them.
            for n in c.hosts.keys {
                let all = try c.hosts[n]!.store(for: c.rangeIDs[0])!.range(userRange)
                #expect(all.count == 200, "node \(n): \(all.count) keys in the user range")
                #expect(c.hosts[n]!.store(for: c.rangeIDs[1])!.indexedKeyCount == 0)
            }
            // The caught-up replica serves after a leadership move to it.
            c.hosts[leader]!.transferLeadership(of: .system, to: lagging)
            #expect(await c.eventually(10) { c.leader(of: .system) == lagging })
            var ids: [Int64] = []
            for _ in 0..<100 {
                if let l = try? await c.hosts[lagging]!.leases() { ids = l.map(\.id); break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(ids.count == 101 && ids.first == 1)
        }
    }
}
