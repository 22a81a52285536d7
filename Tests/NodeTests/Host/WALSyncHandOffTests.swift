import Base
import Foundation
import RaftCore
import Synchronization
import Testing
@testable import Node

/// A gate a test closes to hold a node's WAL sync in progress: the node's sync thread waits
/// inside `pass()` (its `beforeWALSync` hook, called before each WAL append) until the test
/// opens the gate again.
final class SyncGate: Sendable {
    private let state = Mutex((closed: false, holding: false))

    func close() { state.withLock { $0.closed = true } }
    func open() { state.withLock { $0.closed = false } }
    /// Whether the sync thread is waiting in the gate now (a sync is in progress).
    var isHolding: Bool { state.withLock { $0.holding } }

    /// Runs on the node's sync thread, a thread of its own: sleeping here blocks no one else.
    func pass() {
        guard state.withLock({ s -> Bool in
            s.holding = s.closed
            return s.closed
        }) else { return }
        while state.withLock({ $0.closed }) { usleep(1_000) }
        state.withLock { $0.holding = false }
    }
}

extension NodeClusterTests {
    /// The poll loop hands WAL syncs to the sync thread and keeps working meanwhile; no
    /// append response leaves before the entries it acknowledges are durable.
    @Suite struct WALSyncHandOffTests {
        @Test func loopStepsMessagesWhileASyncIsHeldAndAcknowledgesOnlyDurableEntries() async throws {
            let gates: [NodeID: SyncGate] = [NodeID(1): SyncGate(), NodeID(2): SyncGate(), NodeID(3): SyncGate()]
            let c = try TestCluster(nodes: 3, ranges: 1) { config in
                let gate = gates[config.nodeID]
                config.beforeWALSync = { gate?.pass() }
            }
            defer { c.shutdown() }
            let range = c.rangeIDs[0]
            _ = try await c.put(c.key(range: 0, "warm-up"), [0])
            #expect(await c.eventually { c.leader(of: range) != nil })
            let leader = try #require(c.leader(of: range))
            let follower = NodeID(leader.rawValue % 3 + 1)
            let lh = try #require(c.hosts[leader])
            let fh = try #require(c.hosts[follower])
            let fReplica = try #require(fh.descriptor(of: range)?.replica(on: follower)?.replicaID)
            // Every entry the leader counts as matched on the follower must be durable in the
            // follower's WAL (its index publishes a batch only after the fdatasync). Read
            // the match first: the durable index only grows, so match > durable is a real
            // acknowledgement of a non-durable entry.
            var violations: [String] = []
            func checkAcks(_ when: String) {
                let match = lh.raftStatus(of: range)?.progress[fReplica] ?? 0
                let durable = fh.wal.bounds(of: range)?.last ?? 0
                if match > durable { violations.append("\(when): leader counts \(match) matched, follower durable \(durable)") }
            }

            gates[follower]!.close()
            for i in 0..<20 {
                _ = try await c.put(c.key(range: 0, "held\(i)"), [UInt8(i)])
                checkAcks("put \(i)")
            }
            // The follower's sync thread is inside a sync (held in the gate)…
            #expect(await c.eventually(10) { gates[follower]!.isHolding }, "the follower's sync never started")
            let leaderLast = try #require(lh.raftStatus(of: range)?.lastIndex)
            // …yet its loop keeps stepping the leader's appends into Raft (its log grows past
            // what the held sync covers)…
            #expect(await c.eventually(10) { (fh.raftStatus(of: range)?.lastIndex ?? 0) >= leaderLast },
                    "follower loop stalled behind the held sync")
            let heldDurable = fh.wal.bounds(of: range)?.last ?? 0
            #expect(heldDurable < leaderLast, "entries became durable while the sync was held")
            #expect(gates[follower]!.isHolding)
            // …and acknowledges none of them.
            checkAcks("while held")
            let heldMatch = lh.raftStatus(of: range)?.progress[fReplica] ?? 0
            #expect(heldMatch <= heldDurable)

            gates[follower]!.open()
            #expect(await c.eventually(10) {
                checkAcks("after release")
                return (lh.raftStatus(of: range)?.progress[fReplica] ?? 0) >= leaderLast
            }, "the follower never caught up after the sync was released")
            #expect((fh.wal.bounds(of: range)?.last ?? 0) >= leaderLast)
            #expect(await c.eventually { c.value(on: follower, c.key(range: 0, "held19")) == [19] })
            #expect(violations.isEmpty, "\(violations.prefix(5))")
        }
    }
}
