import Base
import Dispatch
import MVCC
import RaftCore
import WAL

/// The poll loop: one thread, one round at a time (see `NodeHost`).
extension NodeHost {
    var tickNs: UInt64 { UInt64(config.tickIntervalMs) * 1_000_000 }

    func runLoop() {
        var nextTick = Self.nowNs() + tickNs
        let beforeIteration = config.beforeLoopIteration
        while true {
            beforeIteration?()
            let now = Self.nowNs()
            if now < nextTick {
                _ = wakeSignal.wait(timeout: .now() + .nanoseconds(Int(nextTick - now)))
            }
            let inbox = mailbox.withLock { m -> Mailbox in
                let taken = m
                m = Mailbox()
                m.stopping = taken.stopping
                return taken
            }
            if inbox.stopping {
                // Put back what the stop path must fail.
                mailbox.withLock { m in
                    m.proposals += inbox.proposals
                    m.installs += inbox.installs
                    m.reads += inbox.reads
                    m.oracleCalls += inbox.oracleCalls
                }
                return
            }
            let roundStart = Self.nowNs()
            let tick = roundStart >= nextTick
            if tick { nextTick = roundStart + tickNs }
            state.withLock { s in round(&s, inbox, tick: tick, now: roundStart) }
        }
    }

    /// One poll round.
    func round(_ s: inout HostState, _ inbox: Mailbox, tick: Bool, now: UInt64) {
        s.metrics.pollRounds += 1
        // Readies whose WAL batch became durable: their held messages, applies, advance.
        finishDurableBatches(through: inbox.durableBatch, &s)
        s.durableSeen = max(s.durableSeen, inbox.durableBatch)
        for (node, at) in inbox.heardFrom { heard(from: node, at: at, &s) }
        for node in inbox.unreachable { reportUnreachable(node, &s) }
        for (range, peer, ok) in inbox.snapshotReports {
            guard let r = s.replicas[range] else { continue }
            r.snapshotsInFlight.remove(peer)
            r.raw.reportSnapshot(peer, succeeded: ok)
            r.touched = true
            if ok { s.metrics.snapshotsSent += 1 }
        }
        for (from, messages) in inbox.inbound {
            for m in messages { stepInbound(m, from: from, &s) }
        }
        // A replica waiting for its sync installs a snapshot only after it (the Ready in
        // flight must be advanced first).
        let installs = s.deferredInstalls + inbox.installs
        s.deferredInstalls = []
        for install in installs {
            if let r = s.replicas[install.header.rangeID], r.syncingBatch != 0 {
                s.deferredInstalls.append(install)
            } else {
                installSnapshot(install, &s)
            }
        }
        handleRevisionAnswers(inbox.revisionAnswers, &s)
        handleProposals(inbox.proposals, &s)
        handleReads(inbox.reads, &s)
        handleOracleCalls(inbox.oracleCalls, &s)
        for (range, node) in inbox.transfers {
            guard let r = s.replicas[range], let target = r.descriptor.replica(on: node) else { continue }
            r.wake()
            r.raw.transferLeader(to: target.replicaID)
        }

        var outbound: [NodeID: [RangeMessage]] = [:]
        if tick {
            for r in s.replicas.values where !r.quiesced { r.raw.tick() }
            checkLiveness(&s, now: now)
            expireProposals(&s, now: now)
            // The coalesced node heartbeat: every peer gets a batch each tick.
            for node in s.peers.keys { outbound[node] = [] }
        }

        // A transfer of range 1 begun (or its leadership lost) this round voids the oracle
        // lease before this round's Readies can carry a timeoutNow or a vote.
        guardOracleLease(&s)
        // With the loop's own oracle, the next fetch's ReadIndex on range 1 goes out in this
        // round's Ready, in the same peer batches as the appends of the writes just given
        // revisions (`NodeHost+LoopOracle`); the call after the applies catches retries.
        if loopOracleServes(s) { startRevisionFetchIfNeeded(&s, beforeReadies: true) }
        handleReadies(&s, outbound: &outbound)
        // The replicas the reported batches released have handed off their next records:
        // the sync thread may start its next append (`WALSyncer`, "waiting for the loop").
        syncer.loopCaughtUp(durableSeen: s.durableSeen)
        serveReads(&s, now: now)
        serveLoopOracle(&s, now: now)
        startRevisionFetchIfNeeded(&s)
        // Held proposals whose leader has now applied its first entry go in the next round.
        if s.rangesHolding.contains(where: { s.replicas[$0].map { $0.appliedIndex >= $0.leaderRevisions.termStartIndex } ?? true }) {
            _ = enqueue { _ in true }
        }

        if tick { quiesceIdleLeaders(&s) }
        commitAppliedIfDue(&s, now: now)
        // The feeds learn of the round's applies after the MVCC commit: a feed woken before it
        // would block a pool thread on its store's lock for the commit's fdatasyncs.
        let resolveOnApply = config.resolveOnApply
        resolved.noteApplied { range in
            s.replicas[range].map { ($0.appliedIndex, resolveOnApply ? $0.store.currentRevision : nil) }
        }
        collectWALGarbageIfDue(&s, now: now)
        if tick { refreshGauges(&s) }
        publishViews(&s, tick: tick)
    }

    /// Publishes changed replica views (on tick rounds also quiescence) and, on tick
    /// rounds, the metrics.
    func publishViews(_ s: inout HostState, tick: Bool) {
        if tick {
            for r in s.replicas.values where r.publishedQuiesced != r.quiesced {
                r.publishedQuiesced = r.quiesced
                s.viewsDirty.insert(r.rangeID)
            }
            let m = s.metrics
            publishedMetrics.withLock { $0 = m }
            let live = s.peers.compactMap { $0.value.alive ? $0.key : nil }
            publishedLivePeers.withLock { $0 = live }
            let down = Set(s.peers.compactMap { $0.value.alive ? nil : $0.key })
            publishedDownPeers.withLock { $0 = down }
        }
        guard !s.viewsDirty.isEmpty else { return }
        let dirty = s.viewsDirty
        s.viewsDirty = []
        var updates: [(RangeID, ReplicaView?)] = []
        for id in dirty { updates.append((id, s.replicas[id].map(ReplicaView.init))) }
        views.withLock { v in for (id, view) in updates { v[id] = view } }
    }

    /// Collects the Ready of every replica not waiting for a sync. Readies with records to
    /// persist are held and their records handed to the WAL sync thread in one batch (one
    /// write, one fdatasync, possibly shared with later rounds); only the messages that may
    /// leave before the sync are sent now (`leavesBeforeSync`), the rest when the batch is
    /// durable (`finishDurableBatches`). Readies without records are finished at once.
    ///
    /// A Ready whose only record is a hard state that moved just its commit index
    /// (`!mustSync`: no entries, no snapshot, same term and vote) is not held either: its
    /// record is queued unsynced and written with the next synced batch, as etcd writes
    /// such hard states without a sync. Why that is safe: the replica had no batch in
    /// flight, so everything its messages and applies rest on (entries, term, vote) is
    /// already durable; the commit index is recoverable state (a node that forgets it
    /// relearns it from the leader), and a crash that loses the record only lowers the
    /// recovered commit index — possibly below the applied index the data file already
    /// committed, which `WALRangeStorage.initialState` raises it back to (applied entries
    /// were committed). `NodeConfig.syncCommitOnlyHardStates` restores the old behaviour.
    func handleReadies(_ s: inout HostState, outbound: inout [NodeID: [RangeMessage]]) {
        var held: [HeldReady] = []
        var free: [(RangeReplica, Ready)] = []
        var records: [WALRecord] = []
        var unsynced = 0
        let syncCommitOnly = config.syncCommitOnlyHardStates
        let align = config.alignLeaderReadies && !s.syncingBatches.isEmpty
        let alignNow = align ? Self.nowNs() : 0
        for r in s.replicas.values where (!r.quiesced || r.touched) && r.syncingBatch == 0 {
            r.touched = false
            guard r.raw.hasReady() else { continue }
            // An experiment (`NodeConfig.alignLeaderReadies`, off by default): a user range
            // leader waits, at most `alignHoldMaxMs`, for the node's sync in progress, so the
            // leaders take their Readies in one round after it (architecture.md §8 rule 9).
            if align && r.isLeader && r.rangeID != .system {
                if r.alignHeldSinceNs == 0 { r.alignHeldSinceNs = alignNow }
                if alignNow - r.alignHeldSinceNs < UInt64(config.alignHoldMaxMs) * 1_000_000 {
                    r.touched = true
                    s.metrics.alignHeldReadies += 1
                    continue
                }
            }
            r.alignHeldSinceNs = 0
            let rd = r.raw.ready()
            let before = records.count
            if let snap = rd.snapshot {
                records.append(.snapshotReset(r.rangeID, index: snap.metadata.index, term: snap.metadata.term))
                r.storage.setSnapshotMetadata(snap.metadata)
            }
            if !rd.entries.isEmpty { records.append(.entries(r.rangeID, rd.entries)) }
            if let hs = rd.hardState { records.append(.hardState(r.rangeID, hs)) }
            if records.count == before {
                free.append((r, rd))
            } else if !rd.mustSync && !syncCommitOnly {
                // Only the commit index moved (see above): written with the next sync.
                unsynced += 1
                free.append((r, rd))
            } else {
                held.append(HeldReady(replica: r, ready: rd, rule: Self.handOff(rd, of: r)))
            }
        }
        if held.isEmpty {
            if !records.isEmpty { syncer.submitUnsynced(records) }
        } else {
            let seq = syncer.submit(records)
            let now = Self.nowNs()
            for h in held {
                h.replica.syncingBatch = seq
                if !h.ready.entries.isEmpty { stampPending(h.ready.entries, of: h.replica, handed: true, now: now, &s) }
                for m in h.ready.messages where Self.leavesBeforeSync(m, rule: h.rule) {
                    route(m, of: h.replica, into: &outbound)
                }
            }
            s.syncingBatches.append((seq, held))
            s.metrics.walBatchesHandedOff += 1
        }
        s.metrics.unsyncedHardStates += UInt64(unsynced)
        // A Ready without records covers only durable state: everything leaves now.
        for (r, rd) in free {
            for m in rd.messages { route(m, of: r, into: &outbound) }
        }
        if !outbound.isEmpty { transport.send(outbound) }
        finish(free, &s)
        if config.applyBeforeSync { applyDurableCommitted(of: held, &s) }
    }

    /// The rest of a Ready once its records are durable (or it had none): soft state,
    /// snapshot bookkeeping, read states, applying committed entries, `advance`.
    func finish(_ readies: [(RangeReplica, Ready)], _ s: inout HostState) {
        for (r, rd) in readies {
            if let ss = rd.softState {
                let wasLeader = r.isLeader
                r.leader = ss.leader
                r.isLeader = ss.role == .leader
                if wasLeader && !r.isLeader {
                    failPendingAfterLeaderChange(r, &s)
                    r.leaderRevisions = LeaderRevisions()
                }
                if r.isLeader && !wasLeader {
                    let st = r.raw.status
                    r.leaderRevisions = LeaderRevisions(term: st.hardState.term, termStartIndex: st.lastIndex)
                }
                s.viewsDirty.insert(r.rangeID)
            }
            if let snap = rd.snapshot {
                r.appliedIndex = max(r.appliedIndex, snap.metadata.index)
                r.durableApplied = max(r.durableApplied, snap.metadata.index)
            }
            if !rd.readStates.isEmpty { noteReadStates(rd.readStates, &s) }
            if !rd.committedEntries.isEmpty { CrashPoint.beforeApply.hit() }
            apply(rd.committedEntries, to: r, &s)
            if !rd.committedEntries.isEmpty { CrashPoint.afterApply.hit() }
            if r.isLeader { r.leaderRevisions.pruneApplied(r.appliedIndex) }
            r.raw.advance(rd)
        }
    }

    /// Messages that may leave before the round's WAL append is durable.
    static func sendsBeforeSync(_ type: MessageType) -> Bool {
        type == .heartbeat || type == .heartbeatResponse
    }

    func stepInbound(_ rm: RangeMessage, from: NodeID, _ s: inout HostState) {
        guard let r = s.replicas[rm.rangeID] else { return }
        if rm.quiesce {
            followerQuiesce(r, rm.message)
            return
        }
        switch rm.message.type {
        case .heartbeatResponse, .appendResponse:
            break  // acknowledgements do not wake a quiesced range
        default:
            r.wake()
        }
        r.touched = true
        try? r.raw.step(rm.message)
    }

    func refreshGauges(_ s: inout HostState) {
        var leaders = 0
        var quiesced = 0
        for r in s.replicas.values {
            if r.isLeader { leaders += 1 }
            if r.quiesced { quiesced += 1 }
            if s.metrics.appliedIndex[r.rangeID] != r.appliedIndex { s.metrics.appliedIndex[r.rangeID] = r.appliedIndex }
        }
        s.metrics.leaderCount = leaders
        s.metrics.quiescedCount = quiesced
        s.metrics.rangeCount = s.replicas.count
        s.metrics.walAppendsGated = syncer.gatedAppends
    }
}
