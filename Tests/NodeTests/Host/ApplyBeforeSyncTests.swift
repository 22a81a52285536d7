import Base
import Foundation
import RaftCore
import Synchronization
import Testing
@testable import Node

/// A turnstile a test puts in front of a node's WAL syncs: once armed, each sync waits
/// inside `pass()` (the node's `beforeWALSync` hook, on its sync thread) for a permit, so a
/// test can let exactly one sync through and hold the next.
final class SyncTurnstile: Sendable {
    private let state = Mutex((armed: false, permits: 0, waiting: false))

    func arm() { state.withLock { $0.armed = true } }
    func disarm() { state.withLock { $0.armed = false } }
    /// Lets `n` more syncs through.
    func admit(_ n: Int) { state.withLock { $0.permits += n } }
    /// Whether a sync is waiting in the turnstile now.
    var isWaiting: Bool { state.withLock { $0.waiting } }

    /// Runs on the node's sync thread, a thread of its own: sleeping here blocks no one else.
    func pass() {
        func proceed(_ s: inout (armed: Bool, permits: Int, waiting: Bool)) -> Bool {
            if !s.armed {
                s.waiting = false
                return true
            }
            if s.permits > 0 {
                s.permits -= 1
                s.waiting = false
                return true
            }
            s.waiting = true
            return false
        }
        while !state.withLock({ proceed(&$0) }) { usleep(1_000) }
    }
}

extension NodeClusterTests {
    /// A held Ready's committed entries that its replica already held durably are applied at
    /// once, not after the Ready's own sync (`NodeHost.applyDurableCommitted`); the Ready's
    /// own new entries still wait for it. Fails with `applyBeforeSync` false (the default
    /// rule: the first `eventually` runs out while the sync is held).
    @Suite struct ApplyBeforeSyncTests {
        @Test func committedDurableEntriesApplyWhileTheNextSyncIsHeld() async throws {
            let gates: [NodeID: SyncTurnstile] = [NodeID(1): SyncTurnstile(), NodeID(2): SyncTurnstile(),
                                                  NodeID(3): SyncTurnstile()]
            let c = try TestCluster(nodes: 3, ranges: 1) { config in
                let gate = gates[config.nodeID]
                config.beforeWALSync = { gate?.pass() }
                config.applyBeforeSync = true
            }
            defer { c.shutdown() }
            let range = c.rangeIDs[0]
            _ = try await c.put(c.key(range: 0, "warm-up"), [0])
            #expect(await c.eventually { c.leader(of: range) != nil })
            let leader = try #require(c.leader(of: range))
            let follower = NodeID(leader.rawValue % 3 + 1)
            let lh = try #require(c.hosts[leader])
            let fh = try #require(c.hosts[follower])
            let gate = try #require(gates[follower])
            let a = c.key(range: 0, "a"), b = c.key(range: 0, "b")

            // The follower's sync of the entry of `a` is held: `a` commits through the others.
            gate.arm()
            _ = try await c.put(a, [1])
            let aIndex = try #require(lh.raftStatus(of: range)?.lastIndex)
            #expect(await c.eventually(60) { gate.isWaiting }, "the follower's sync never started")
            // `b` commits too; the leader's append of it tells the follower that `a` is committed.
            _ = try await c.put(b, [2])
            let bIndex = try #require(lh.raftStatus(of: range)?.lastIndex)
            #expect(await c.eventually(60) {
                let st = fh.raftStatus(of: range)
                return (st?.lastIndex ?? 0) >= bIndex && (st?.hardState.commit ?? 0) >= aIndex
            }, "the follower never stepped the append of b")
            #expect(c.value(on: follower, a) == nil, "a applied before its entry was durable on the follower")

            // One sync through (the entry of `a`): the next Ready — `a` committed, `b` new — is
            // held in the turnstile. `a` applies now; `b` waits for its own sync.
            gate.admit(1)
            var seen: (durable: UInt64, b: [UInt8]?)?
            let applied = await c.eventually(10) {
                guard gate.isWaiting, c.value(on: follower, a) == [1] else { return false }
                seen = (fh.wal.bounds(of: range)?.last ?? 0, c.value(on: follower, b))
                return gate.isWaiting  // still held after the observation
            }
            #expect(applied, "a was not applied on the follower while the next sync was held")
            if let seen {
                #expect(seen.durable >= aIndex, "a applied before it was durable on the follower")
                #expect(seen.durable < bIndex, "b's entry became durable while its sync was held")
                #expect(seen.b == nil, "b applied before its entry was durable on the follower")
            }

            gate.disarm()
            #expect(await c.eventually(60) { c.value(on: follower, b) == [2] }, "b never applied on the follower")
        }
    }
}
