import Base
import Foundation
import MVCC
import Node
import Testing

extension NodeClusterTests {
    /// A replica that was down while the others truncated their logs catches up by an LZ4
    /// snapshot of the range's segment.
    @Suite struct SnapshotCatchUpTests {
        @Test func restartedNodeCatchesUpBySnapshotAfterLogTruncation() async throws {
            let c = try TestCluster(ranges: 2) { cfg in
                cfg.walSegmentBytes = 16 << 10
                cfg.walGCIntervalMs = 50
            }
            defer { c.shutdown() }
            _ = try await c.put(c.key(range: 0, "first"), [0])
            c.stop(NodeID(3))
            let value = [UInt8](repeating: 0xAB, count: 512)
            for j in 0..<200 { _ = try await c.put(c.key(range: 0, "k\(j)"), value) }
            // The survivors' logs no longer start at index 1: their WAL segments were collected.
            let truncated = await c.eventually {
                c.hosts.values.allSatisfy { $0.metrics.walSegmentsDeleted > 0 }
            }
            #expect(truncated, "WAL GC deleted segments on the live nodes")
            try c.start(NodeID(3))
            let n3 = NodeID(3)
            #expect(await c.eventually { (0..<200).allSatisfy { c.value(on: n3, c.key(range: 0, "k\($0)")) == value } },
                    "node 3 has every write")
            #expect(c.value(on: n3, c.key(range: 0, "first")) == [0])
            #expect(await c.eventually { c.hosts[n3]!.metrics.snapshotsReceived >= 1 }, "it caught up through a snapshot")
            #expect(c.hosts[n3]!.metrics.snapshotBytesReceived > 0)
            #expect(await c.eventually { c.hosts.values.contains { $0.metrics.snapshotBytesSent > 0 } })
            let sent = c.hosts.values.reduce(UInt64(0)) { $0 + $1.metrics.snapshotBytesSent }
            #expect(sent > 0 && sent < 200 * 512, "compressed bytes on the wire: \(sent)")
            // After the snapshot the range keeps replicating to node 3 from the log.
            _ = try await c.put(c.key(range: 0, "later"), [7])
            #expect(await c.eventually { c.value(on: n3, c.key(range: 0, "later")) == [7] })
        }
    }
}
