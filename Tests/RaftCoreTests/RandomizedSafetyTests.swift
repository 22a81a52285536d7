import Base
import Testing
import TestThreads
@testable import RaftCore

/// Model-based test: random ticks, proposals, message loss, reordering, partitions,
/// compaction, leadership transfers and membership churn on a group, checking Raft's
/// safety properties after every step:
/// - Election Safety: at most one leader per term;
/// - State Machine Safety: all replicas apply the same sequence (prefixes of one
///   another), and an index is only ever committed with one entry;
/// - ReadIndex linearizability: a read point is at least every commit index reached
///   anywhere before the read was requested;
/// and, after healing, that the group elects a leader and converges.
/// A failure names its seed; rerun with that seed to reproduce.
@Suite struct RandomizedSafetyTests {
    @Test(arguments: 0..<24) func safetyUnderChaos(_ seed: Int) async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            try Self.run(seed: UInt64(seed), steps: 1500, lease: false)
        }
    }

    /// Lease reads are safe with bounded clock drift: here every replica ticks together
    /// (no drift) while messages are still lost, duplicated and delayed arbitrarily.
    @Test(arguments: 1000..<1016) func leaseReadsUnderChaos(_ seed: Int) async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            try Self.run(seed: UInt64(seed), steps: 1500, lease: true)
        }
    }

    static func run(seed: UInt64, steps: Int, lease: Bool) throws {
        var rng = SeededGenerator(seed: seed)
        let size = [3, 5][Int(seed % 2)]
        let preVote = seed % 4 < 2
        let checkQuorum = lease || seed % 3 != 0
        let ids = (1...UInt64(size)).map { $0 }
        let c = Cluster(ids) { cfg in
            cfg.preVote = preVote
            cfg.checkQuorum = checkQuorum
            if lease { cfg.readOnlyOption = .leaseBased }
            cfg.electionTicks = 5
            cfg.maxInflightMsgs = 4
            cfg.maxSizePerMsg = 16
            cfg.randomSeed = seed &* 31 &+ cfg.id
        }
        var leaderOfTerm: [UInt64: ReplicaID] = [:]
        var committedAt: [UInt64: Entry] = [:]
        var proposals = 0
        var reads = 0
        /// Per read context: the highest commit index anywhere when it was requested.
        var readFloor: [String: UInt64] = [:]
        let context = "seed \(seed) (size \(size), preVote \(preVote), checkQuorum \(checkQuorum), lease \(lease))"

        func check(_ step: Int) -> Bool {
            for id in c.ids {
                let r = c.raft(id)
                if r.state == .leader {
                    if let other = leaderOfTerm[r.term], other != id {
                        Issue.record("two leaders in term \(r.term): \(other) and \(id) at step \(step), \(context)")
                        return false
                    }
                    leaderOfTerm[r.term] = id
                }
            }
            // Applied sequences are prefixes of the longest one.
            let longest = c.ids.map { c.applied[$0]! }.max { $0.count < $1.count }!
            for id in c.ids where Array(longest.prefix(c.applied[id]!.count)) != c.applied[id]! {
                Issue.record("replica \(id) applied a diverging sequence at step \(step), \(context)")
                return false
            }
            return true
        }

        for step in 0..<steps {
            let id = ids.randomElement(using: &rng)!
            var targets: [ReplicaID] = []
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<15:
                if lease {
                    for r in ids { c.tick(r) }  // one clock for all: no drift
                } else {
                    c.tick(id)
                }
            case 15..<30:
                proposals += 1
                try? c.propose(id, "p\(proposals)")
            case 30..<65:
                for _ in 0..<Int.random(in: 1...5, using: &rng) { deliverRandom(c, &rng) }
            case 65..<90:
                targets = [id]
            case 90..<92:
                if c.isolated.isEmpty { c.isolated.insert(id) } else { c.isolated.removeAll() }
            case 92..<94:
                // Compact a replica's log up to what it applied.
                let t = c.testStorages[id]!
                if t.appliedIndex > c.storages[id]!.firstIndex() {
                    if t.appliedIndex > (try c.storages[id]!.snapshot()).metadata.index {
                        try c.storages[id]!.createSnapshot(index: t.appliedIndex, confState: t.appliedConfState,
                                                           data: t.appliedData)
                    }
                    try c.storages[id]!.compact(upTo: t.appliedIndex)
                }
            case 94..<95:
                if let l = c.leader { c.with(l) { $0.transferLeader(to: ids.randomElement(using: &rng)!) } }
            case 95..<96:
                reads += 1
                let ctx = "r\(reads)"
                readFloor[ctx] = ids.map { c.raft($0).log.committed }.max()!
                c.with(id) { $0.readIndex(context: Array(ctx.utf8)) }
            case 96..<97:
                // Membership churn: demote/promote a non-leader replica (never below 3 voters).
                if let l = c.leader, id != l {
                    let cs = c.node(l).status.confState
                    let change: ConfChangeSingle = cs.voters.contains(id) && cs.voters.count > 3
                        ? ConfChangeSingle(.addLearnerNode, id) : ConfChangeSingle(.addNode, id)
                    try? c.with(l) { try $0.proposeConfChange(ConfChange(changes: [change])) }
                }
            default:
                targets = ids
            }
            for target in targets {
                if let rd = c.processReady(target) {
                    for rs in rd.readStates {
                        let ctx = String(decoding: rs.context, as: UTF8.self)
                        if let floor = readFloor[ctx], rs.index < floor {
                            Issue.record("read \(ctx) served at \(rs.index) < \(floor) at step \(step), \(context)")
                            return
                        }
                    }
                    for e in rd.committedEntries {
                        if let prev = committedAt[e.index], prev != e {
                            Issue.record("index \(e.index) committed as \(prev) and \(e) at step \(step), \(context)")
                            return
                        }
                        committedAt[e.index] = e
                    }
                }
            }
            if !check(step) { return }
        }

        // Liveness once the network is healthy again.
        c.isolated.removeAll()
        for round in 0..<200 {
            for id in ids { c.tick(id) }
            c.stabilize()
            if round > 20, c.leader != nil { break }
        }
        guard let leader = c.leader else {
            Issue.record("no leader after healing, \(context)")
            return
        }
        try? c.propose(leader, "final")
        for _ in 0..<5 {
            for id in ids { c.tick(id) }
            c.stabilize()
        }
        #expect(check(steps), "\(context)")
        let commits = Set(ids.map { c.raft($0).log.committed })
        #expect(commits.count == 1, "replicas did not converge: \(ids.map { ($0, c.raft($0).log.committed, c.raft($0).state, c.raft($0).lead, c.raft($0).term, c.node(leader).raft.tracker.progress[$0].map { "\($0.state) m\($0.match) n\($0.next) p\($0.isPaused) ra\($0.recentActive)" } ?? "-") }), \(context)")
        #expect(c.appliedStrings(leader).last == "final", "\(context)")
    }

    /// Delivers, drops, duplicates or delays one random queued message.
    static func deliverRandom(_ c: Cluster, _ rng: inout SeededGenerator) {
        guard !c.queue.isEmpty else { return }
        let i = Int.random(in: 0..<c.queue.count, using: &rng)
        let m = c.queue.remove(at: i)
        let roll = Int.random(in: 0..<100, using: &rng)
        let lost = roll < 10 || c.isolated.contains(m.to) || c.isolated.contains(m.from)
        if m.type == .snapshot {
            // The transport tells the leader how sending the snapshot went.
            c.with(m.from) { $0.reportSnapshot(m.to, succeeded: !lost) }
        }
        if lost { return }
        if roll < 13 { c.queue.append(m) }  // duplicated
        try? c.nodes[m.to]!.step(m)
    }
}
