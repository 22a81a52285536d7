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
        while true {
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
        for install in inbox.installs { installSnapshot(install, &s) }
        handleRevisionAnswers(inbox.revisionAnswers, &s)
        handleProposals(inbox.proposals, &s)
        handleReads(inbox.reads, &s)
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

        handleReadies(&s, outbound: &outbound)
        serveReads(&s, now: now)
        startRevisionFetchIfNeeded(&s)
        resolved.noteApplied { s.replicas[$0]?.appliedIndex }
        // Held proposals whose leader has now applied its first entry go in the next round.
        if s.rangesHolding.contains(where: { s.replicas[$0].map { $0.appliedIndex >= $0.leaderRevisions.termStartIndex } ?? true }) {
            _ = enqueue { _ in true }
        }

        if tick { quiesceIdleLeaders(&s) }
        commitAppliedIfDue(&s, now: now)
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
        }
        guard !s.viewsDirty.isEmpty else { return }
        let dirty = s.viewsDirty
        s.viewsDirty = []
        var updates: [(RangeID, ReplicaView?)] = []
        for id in dirty { updates.append((id, s.replicas[id].map(ReplicaView.init))) }
        views.withLock { v in for (id, view) in updates { v[id] = view } }
    }

    /// Collects every Ready, persists them in one WAL append, sends, applies, advances.
    func handleReadies(_ s: inout HostState, outbound: inout [NodeID: [RangeMessage]]) {
        var readies: [(RangeReplica, Ready)] = []
        var records: [WALRecord] = []
        for r in s.replicas.values where !r.quiesced || r.touched {
            r.touched = false
            guard r.raw.hasReady() else { continue }
            let rd = r.raw.ready()
            if let snap = rd.snapshot {
                records.append(.snapshotReset(r.rangeID, index: snap.metadata.index, term: snap.metadata.term))
                r.storage.setSnapshotMetadata(snap.metadata)
            }
            if !rd.entries.isEmpty { records.append(.entries(r.rangeID, rd.entries)) }
            if let hs = rd.hardState { records.append(.hardState(r.rangeID, hs)) }
            readies.append((r, rd))
        }
        let syncing = !records.isEmpty
        if syncing {
            // Heartbeats and their responses promise nothing about this round's log
            // entries or votes (etcd raft likewise holds back only append and vote responses
            // until the write is durable), so they leave before the fsync: a ReadIndex
            // round (linearizable reads, closes, the oracle's leadership confirmation) no
            // longer waits for every node's unrelated WAL syncs on its way.
            var early = outbound
            outbound = [:]
            for (r, rd) in readies {
                for m in rd.messages where Self.sendsBeforeSync(m.type) {
                    guard let node = r.node(of: m.to) else { continue }
                    early[node, default: []].append(RangeMessage(rangeID: r.rangeID, message: m))
                }
            }
            if !early.isEmpty { transport.send(early) }
            do {
                try wal.append(records)
            } catch {
                fatalError("node \(nodeID): WAL append failed: \(error)")
            }
        }
        // Only now (after the sync) may messages acknowledging these entries leave.
        for (r, rd) in readies {
            for m in rd.messages {
                if syncing && Self.sendsBeforeSync(m.type) { continue }
                if m.type == .snapshot {
                    startSnapshotSend(r, m)
                    continue
                }
                guard let node = r.node(of: m.to) else { continue }
                outbound[node, default: []].append(RangeMessage(rangeID: r.rangeID, message: m))
            }
        }
        if !outbound.isEmpty { transport.send(outbound) }
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
    }
}
