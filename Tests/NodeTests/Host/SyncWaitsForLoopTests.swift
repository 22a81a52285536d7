import Base
import Foundation
import Testing
@testable import Node

extension NodeClusterTests {
    /// The WAL sync thread's wait for the poll loop after a durable report
    /// (`NodeConfig.syncWaitsForLoop`, `WALSyncer`), on real NodeHosts.
    @Suite struct SyncWaitsForLoopTests {
        /// A batch another range queued while the leader's sync was in progress is not written
        /// alone right after that sync: the append waits for the loop's round that took the
        /// report (counted in `gatedAppends`), and that round opens the gate even though no
        /// further input reaches the node — both writes complete. Fails with the wait off
        /// (`gatedAppends` stays 0) and with a gate the loop never opens (the second write hangs).
        @Test func aBatchQueuedDuringASyncWaitsForTheLoopAndIsWritten() async throws {
            let gates: [NodeID: SyncGate] = [NodeID(1): SyncGate(), NodeID(2): SyncGate(), NodeID(3): SyncGate()]
            let c = try TestCluster(nodes: 3, ranges: 4) { config in
                let gate = gates[config.nodeID]
                config.beforeWALSync = { gate?.pass() }
                config.syncWaitsForLoop = true
            }
            defer { c.shutdown() }
            for i in 0..<4 { _ = try await c.put(c.key(range: i, "warm"), [0]) }
            let (a, b, leader) = try await twoRangesWithOneLeader(c)
            let host = try #require(c.hosts[leader])
            let gate = gates[leader]!

            gate.close()
            let first = Task { try await c.put(c.key(range: a, "first"), [1]) }
            #expect(await c.eventually(10) { gate.isHolding }, "the leader's sync never started")
            // The second range's write is handed to the sync thread while the sync is held.
            let queued = host.syncer.submittedBatches
            let second = Task { try await c.put(c.key(range: b, "second"), [2]) }
            #expect(await c.eventually(10) { host.syncer.submittedBatches > queued },
                    "the second range's batch was never handed off")
            let gatedBefore = host.syncer.gatedAppends
            gate.open()
            _ = try await first.value
            _ = try await second.value
            #expect(host.syncer.gatedAppends > gatedBefore, "no append waited for the loop's round")
            #expect(await c.eventually { c.value(on: leader, c.key(range: b, "second")) == [2] })
        }
    }
}

extension NodeClusterTests {
    /// `NodeConfig.alignLeaderReadies` (session 14 experiment, off by default): a leader whose
    /// Ready comes up while another batch of its node is syncing is held back (bounded by
    /// `alignHoldMaxMs`) and still reaches the log: the write completes. Fails with the hold
    /// removed (`alignHeldReadies` stays 0).
    @Suite struct AlignLeaderReadiesTests {
        @Test func aLeaderReadyIsHeldDuringAnotherSyncAndStillWritten() async throws {
            let gates: [NodeID: SyncGate] = [NodeID(1): SyncGate(), NodeID(2): SyncGate(), NodeID(3): SyncGate()]
            let c = try TestCluster(nodes: 3, ranges: 4) { config in
                let gate = gates[config.nodeID]
                config.beforeWALSync = { gate?.pass() }
                config.alignLeaderReadies = true
                config.alignHoldMaxMs = 200
            }
            defer { c.shutdown() }
            for i in 0..<4 { _ = try await c.put(c.key(range: i, "warm"), [0]) }
            let (a, b, leader) = try await twoRangesWithOneLeader(c)
            let host = try #require(c.hosts[leader])
            let gate = gates[leader]!
            let heldBefore = host.state.withLock { $0.metrics.alignHeldReadies }

            gate.close()
            let first = Task { try await c.put(c.key(range: a, "first"), [1]) }
            #expect(await c.eventually(10) { gate.isHolding }, "the leader's sync never started")
            let second = Task { try await c.put(c.key(range: b, "second"), [2]) }
            #expect(await c.eventually(10) { host.state.withLock { $0.metrics.alignHeldReadies } > heldBefore },
                    "the second range's Ready was not held during the first range's sync")
            gate.open()
            _ = try await first.value
            _ = try await second.value
            #expect(await c.eventually { c.value(on: leader, c.key(range: b, "second")) == [2] })
        }
    }
}

/// Two of the 4 ranges of `c` led by the same node (4 ranges on 3 nodes: one node leads
/// two), as (range index, range index, leader).
func twoRangesWithOneLeader(_ c: TestCluster) async throws -> (Int, Int, NodeID) {
    var pair: (Int, Int, NodeID)?
    #expect(await c.eventually(20) {
        let leaders = (0..<4).map { c.leader(of: c.rangeIDs[$0]) }
        for i in 0..<4 {
            for j in (i + 1)..<4 where leaders[i] != nil && leaders[i] == leaders[j] {
                pair = (i, j, leaders[i]!)
                return true
            }
        }
        return false
    }, "no node leads two ranges")
    return try #require(pair)
}
