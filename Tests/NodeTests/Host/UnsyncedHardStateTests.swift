import Base
import Foundation
import RaftCore
import Testing
@testable import Node

extension NodeClusterTests {
    /// A Ready whose only record is a hard state with a moved commit index is finished
    /// without an fdatasync of its own (its record rides the next synced batch), and a
    /// crash that loses that record still restarts with every acknowledged write.
    @Suite struct UnsyncedHardStateTests {
        @Test func commitOnlyHardStatesSkipTheirSyncAndACrashThatLosesThemRestarts() async throws {
            let c = try TestCluster(nodes: 3, ranges: 1)
            defer { c.shutdown() }
            let range = c.rangeIDs[0]
            var acked: [[UInt8]: [UInt8]] = [:]
            // Any other synced WAL batch on the follower (an election or system-range traffic
            // on a loaded machine) carries the lagging commit index with it, leaving nothing
            // to lose; such an attempt is repeated with more writes (at most 5 times).
            var follower = NodeID(1), last: UInt64 = 0, lagging = false, written = 0
            for attempt in 0..<5 where !lagging {
                for i in written..<(written + 30) {
                    let key = c.key(range: 0, "u\(i)")
                    _ = try await c.put(key, [UInt8(i % 256)])
                    acked[key] = [UInt8(i % 256)]
                }
                written += 30
                let leader = try #require(c.leader(of: range))
                follower = NodeID(leader.rawValue % 3 + 1)
                let fh = try #require(c.hosts[follower])
                last = try #require(c.hosts[leader]?.raftStatus(of: range)?.lastIndex)
                // The follower applies everything; its data file commits the applied index
                // (every 20 ms here) while the hard state that moved its commit index to `last`
                // waits, unsynced and unwritten, for a batch that never comes (no more writes).
                #expect(await c.eventually { fh.store(for: range)?.appliedIndex == last })
                #expect(await c.eventually { fh.metrics.unsyncedHardStates > 0 },
                        "no commit-only hard state skipped its sync")
                try await Task.sleep(for: .milliseconds(300))
                let walCommit = fh.wal.hardState(of: range)?.commit ?? 0
                lagging = walCommit < last
                if !lagging { print("attempt \(attempt): the follower's WAL already holds commit \(walCommit) (last \(last))") }
            }
            try #require(lagging, "in 5 attempts the follower's WAL never lagged its applied index: nothing to lose")

            // A crash (no final flush: the unsynced records are dropped), then a restart:
            // the recovered commit index lags the data file's applied index.
            c.stop(follower, flush: false)
            try c.start(follower)
            let restarted = try #require(c.hosts[follower])
            #expect((restarted.raftStatus(of: range)?.hardState.commit ?? 0) >= last)
            for i in written..<(written + 5) {
                let key = c.key(range: 0, "u\(i)")
                _ = try await c.put(key, [UInt8(i % 256)])
                acked[key] = [UInt8(i % 256)]
            }
            for n in c.hosts.keys {
                #expect(await c.eventually { acked.allSatisfy { c.value(on: n, $0.key) == $0.value } },
                        "node \(n) misses acknowledged writes")
            }
        }

        @Test func theSwitchRestoresASyncPerCommitOnlyHardState() async throws {
            let c = try TestCluster(nodes: 3, ranges: 1) { $0.syncCommitOnlyHardStates = true }
            defer { c.shutdown() }
            let range = c.rangeIDs[0]
            for i in 0..<10 { _ = try await c.put(c.key(range: 0, "s\(i)"), [UInt8(i)]) }
            let leader = try #require(c.leader(of: range))
            let last = try #require(c.hosts[leader]?.raftStatus(of: range)?.lastIndex)
            for (n, h) in c.hosts {
                #expect(await c.eventually { h.store(for: range)?.appliedIndex == last })
                #expect(await c.eventually { (h.wal.hardState(of: range)?.commit ?? 0) == last },
                        "node \(n): applied \(last) before its commit index was durable")
                #expect(h.metrics.unsyncedHardStates == 0)
            }
        }
    }
}
