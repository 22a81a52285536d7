import Base
import RaftCore
import WAL

/// The hand-off of each round's WAL records to the sync thread (`WALSyncer`) and the
/// finishing of the Readies once their batch is durable. The rules (docs/node-runtime.md,
/// "A poll round", and architecture.md §11):
/// - a Ready with records (entries, hard state, snapshot reset) is **held**: its replica
///   gives no new Ready until the batch is durable; Raft keeps stepping its input meanwhile;
/// - of a held Ready only heartbeats, heartbeat responses and the leader's appends leave
///   before the sync (`leavesBeforeSync`); every acknowledgement (append and vote responses)
///   and everything else leaves after it;
/// - its `advance` is called only after the sync; its committed entries are applied then,
///   except those its replica held durably before it, which are applied at once
///   (`applyDurableCommitted`).
extension NodeHost {
    /// The sync thread reports every batch up to `seq` durable.
    func noteDurable(_ seq: UInt64) {
        _ = enqueue { m in
            m.durableBatch = max(m.durableBatch, seq)
            return true
        }
    }

    /// Finishes the held Readies of every batch up to `through` (now durable): their
    /// remaining messages leave, then their committed entries are applied and Raft advances.
    func finishDurableBatches(through: UInt64, _ s: inout HostState) {
        guard through > 0 else { return }
        var finished: [(RangeReplica, Ready)] = []
        var outbound: [NodeID: [RangeMessage]] = [:]
        let now = Self.nowNs()
        while let first = s.syncingBatches.first, first.seq <= through {
            s.syncingBatches.removeFirst()
            for held in first.readies where held.replica.syncingBatch == first.seq
                && s.replicas[held.replica.rangeID] === held.replica
            {
                let r = held.replica
                r.syncingBatch = 0
                r.touched = true
                finished.append((r, held.ready))
                if !held.ready.entries.isEmpty { stampPending(held.ready.entries, of: r, handed: false, now: now, &s) }
                for m in held.ready.messages where !Self.leavesBeforeSync(m, rule: held.rule) {
                    route(m, of: r, into: &outbound)
                }
            }
        }
        guard !finished.isEmpty else { return }
        if !outbound.isEmpty { transport.send(outbound) }
        finish(finished, &s)
    }

    /// Applies at once, for each held Ready, the committed entries its replica held durably
    /// before that Ready: every committed entry below the Ready's first new entry. They need
    /// not wait for the Ready's own sync: the replica's previous Ready finished its sync
    /// before this one was collected (one Ready in flight per replica), so they are durable
    /// here, and committed, so durable on a quorum — what a Ready without records (finished
    /// at once) rests on too. A leader counts its own match at append, so an entry it
    /// appended in THIS Ready may already count as committed (a single voter commits on
    /// append): those are at or above the first new entry and wait for the sync. Without
    /// this, in a steady write stream every entry's apply (and its client's answer, and its
    /// watch events) waited for the fdatasync of the entries appended after it.
    ///
    /// Only for a Ready that changes nothing `finish` must see before applying (no soft state,
    /// snapshot, term or vote change), and only up to its first conf change (that and what
    /// follows wait for `finish`). `finish` later skips what was applied here (`apply` skips
    /// entries at or below the applied index). `NodeConfig.applyBeforeSync`.
    func applyDurableCommitted(of held: [HeldReady], _ s: inout HostState) {
        for h in held {
            let rd = h.ready
            guard !rd.committedEntries.isEmpty, rd.softState == nil, rd.snapshot == nil, !h.rule.changesTermOrVote
            else { continue }
            let firstNew = rd.entries.first?.index ?? .max
            let r = h.replica
            guard s.replicas[r.rangeID] === r else { continue }  // removed by an earlier apply (a merge)
            let durable = rd.committedEntries.prefix { $0.index < firstNew && $0.type != .confChange }
            guard let last = durable.last, last.index > r.appliedIndex else { continue }
            let before = r.appliedIndex
            CrashPoint.beforeApply.hit()
            apply(Array(durable), to: r, &s)
            CrashPoint.afterApply.hit()
            s.metrics.appliedBeforeSync += r.appliedIndex - before
            if r.isLeader { r.leaderRevisions.pruneApplied(r.appliedIndex) }
        }
    }

    /// What decides which messages of a held Ready leave before its sync: whether the
    /// Ready changes the replica's term or vote (then none but heartbeats do), and the first
    /// index it appends (an append may leave only with a commit index below it). Computed
    /// before `handedOffTerm`/`handedOffVote` are updated for this Ready and stored with it.
    struct EarlyRule {
        var changesTermOrVote: Bool
        var firstNewIndex: UInt64?
    }

    /// The rule for `rd`, a new Ready of `r` with records; records its hard state as
    /// handed off.
    static func handOff(_ rd: Ready, of r: RangeReplica) -> EarlyRule {
        var changes = false
        if let hs = rd.hardState {
            changes = hs.term != r.handedOffTerm || hs.vote != r.handedOffVote
            r.handedOffTerm = hs.term
            r.handedOffVote = hs.vote
        }
        return EarlyRule(changesTermOrVote: changes, firstNewIndex: rd.entries.first?.index)
    }

    /// Whether `m`, from a Ready whose records are not yet durable, may leave now.
    /// - Heartbeats and their responses promise nothing about the round's entries or votes.
    /// - A leader's append may go out while its own copy is being synced (Raft thesis
    ///   §10.2.1; etcd does the same): the leader's own match is only acted on after the
    ///   sync (nothing computed from it leaves or applies before), and a follower's answer
    ///   is sent only after the follower's sync. Not when the Ready changes term or vote
    ///   (a message of a term the leader could forget in a crash), and not when the commit
    ///   index it carries reaches this Ready's own entries (a single-voter leader commits on
    ///   append; its learners must not learn that before the leader's copy is durable).
    static func leavesBeforeSync(_ m: Message, rule: EarlyRule) -> Bool {
        if sendsBeforeSync(m.type) { return true }
        guard m.type == .append, !rule.changesTermOrVote else { return false }
        if let first = rule.firstNewIndex, m.commit >= first { return false }
        return true
    }

    /// Puts `m` of `r` in the per-node outbound batches (a snapshot starts its send).
    func route(_ m: Message, of r: RangeReplica, into outbound: inout [NodeID: [RangeMessage]]) {
        if m.type == .snapshot {
            startSnapshotSend(r, m)
            return
        }
        guard let node = r.node(of: m.to) else { return }
        outbound[node, default: []].append(RangeMessage(rangeID: r.rangeID, message: m))
    }
}

/// A Ready waiting for its WAL sync batch, with the rule that decided which of its
/// messages left before the sync (the rest leave after it).
struct HeldReady {
    let replica: RangeReplica
    let ready: Ready
    let rule: NodeHost.EarlyRule
}
