public import Base
public import RaftCore

/// The fault-free plumbing of the Raft throughput benchmark: `replicaCount` replicas of
/// one group (RawNode over `SimStorage`) in one thread, messages handed over directly in
/// send order (no network model, no checkers, no trace). Each round is what a node's
/// poll loop does: the leader takes a batch of client proposals, then every replica
/// with a Ready persists, sends, applies and advances, and the messages sent in that
/// round are delivered. It owns the replicas and the in-flight messages; it counts
/// client entries applied (a round's entries are counted once the slowest replica has
/// applied them). No allocation per entry beyond the entry itself.
public struct ThroughputHarness {
    /// Progress counters since the harness was built.
    public struct Counts: Sendable {
        /// Client entries applied on every replica.
        public var appliedOnAll: UInt64
        public var proposed: UInt64
        public var rounds: UInt64
        public var messages: UInt64
    }

    var nodes: [RawNode<SimStorage>] = []
    var storages: [SimStorage] = []
    /// Client (non-empty normal) entries applied, per replica.
    var appliedEntries: [UInt64]
    var appliedIndex: [UInt64]
    var inbox: [Message] = []
    var outbox: [Message] = []
    var proposed: UInt64 = 0
    var rounds: UInt64 = 0
    var messages: UInt64 = 0
    let compactEvery: UInt64
    let confState: ConfState
    let leaderIndex = 0

    /// Builds the group and elects replica 1.
    public init(replicaCount: Int = 3, maxSizePerMsg: UInt64 = 1 << 20, maxInflightMsgs: Int = 256,
                compactEvery: UInt64 = 1 << 16) throws(RaftError) {
        let voters = (1...UInt64(replicaCount)).map { ReplicaID($0) }
        let bootstrap = Snapshot(metadata: SnapshotMetadata(confState: ConfState(voters: voters), index: 1, term: 1))
        for id in voters {
            let storage = SimStorage(bootstrap: bootstrap)
            let config = RaftConfig(id: id, electionTicks: 10, heartbeatTicks: 1, applied: 1,
                                    maxSizePerMsg: maxSizePerMsg, maxInflightMsgs: maxInflightMsgs,
                                    checkQuorum: false, preVote: false, randomSeed: id)
            storages.append(storage)
            nodes.append(try RawNode(config: config, storage: storage))
        }
        appliedEntries = Array(repeating: 0, count: replicaCount)
        appliedIndex = Array(repeating: 1, count: replicaCount)
        self.compactEvery = compactEvery
        confState = ConfState(voters: voters)
        try nodes[leaderIndex].campaign()
        for _ in 0..<20 {
            pump()
            if nodes[leaderIndex].status.softState.role == .leader && inbox.isEmpty { break }
        }
        guard nodes[leaderIndex].status.softState.role == .leader else { throw .noLeader }
    }

    public var counts: Counts {
        Counts(appliedOnAll: appliedEntries.min() ?? 0, proposed: proposed, rounds: rounds, messages: messages)
    }

    /// One poll round in which the leader takes `payloads` as one batch of proposals.
    public mutating func round(payloads: [[UInt8]]) throws(RaftError) {
        try nodes[leaderIndex].propose(batch: payloads)
        proposed += UInt64(payloads.count)
        pump()
    }

    /// Rounds without new proposals until every proposal is applied everywhere (or
    /// `maxRounds` pass).
    public mutating func drain(maxRounds: Int = 10_000) {
        var k = 0
        while (appliedEntries.min() ?? 0) < proposed && k < maxRounds {
            pump()
            if inbox.isEmpty && !nodes.indices.contains(where: { nodes[$0].hasReady() }) {
                // Nothing in flight: a heartbeat round carries the commit index along.
                nodes[leaderIndex].tick()
            }
            k += 1
        }
    }

    /// Handles every replica's Ready, then delivers the messages sent this round.
    mutating func pump() {
        rounds += 1
        for i in nodes.indices { handleReadies(i) }
        swap(&inbox, &outbox)
        outbox.removeAll(keepingCapacity: true)
        messages += UInt64(inbox.count)
        for m in inbox {
            let i = Int(m.to) - 1
            try? nodes[i].step(m)
        }
        inbox.removeAll(keepingCapacity: true)
        for i in nodes.indices { handleReadies(i) }
    }

    mutating func handleReadies(_ i: Int) {
        while nodes[i].hasReady() {
            let rd = nodes[i].ready()
            let storage = storages[i]
            if let snap = rd.snapshot { storage.applySnapshot(snap) }
            if !rd.entries.isEmpty { storage.append(rd.entries) }
            if let hs = rd.hardState { storage.setHardState(hs, sync: rd.mustSync) }
            outbox.append(contentsOf: rd.messages)
            if let snap = rd.snapshot { appliedIndex[i] = snap.metadata.index }
            var applied: UInt64 = 0
            for e in rd.committedEntries {
                if e.type == .confChange {
                    if let cc = try? ConfChange(decoding: e.data) { _ = nodes[i].applyConfChange(cc) }
                } else if !e.data.isEmpty {
                    applied += 1
                }
            }
            if let last = rd.committedEntries.last { appliedIndex[i] = last.index }
            appliedEntries[i] += applied
            nodes[i].advance(rd)
            if appliedIndex[i] >= storage.offsetIndex + compactEvery {
                storage.createSnapshot(index: appliedIndex[i], confState: confState, data: [])
                storage.compact(upTo: appliedIndex[i])
            }
        }
    }
}
