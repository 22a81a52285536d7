import Base
import MVCC
import RaftCore
import WAL

/// Applying committed entries to MVCC, the batched MVCC commits and WAL garbage collection.
extension NodeHost {
    /// Applies `entries` (committed, in order) to the replica's MVCC store and completes the
    /// proposals this node is waiting for. Entries at or below the applied index (replayed
    /// after a snapshot ingest) are skipped, and so is a client write whose request ID
    /// already applied within the de-duplication window (`AppliedRequests`).
    func apply(_ entries: [Entry], to r: RangeReplica, _ s: inout HostState) {
        for e in entries where e.index > r.appliedIndex {
            switch e.type {
            case .confChange:
                if let cc = try? ConfChange(decoding: e.data) {
                    _ = r.raw.applyConfChange(cc)
                }
                r.store.setAppliedIndex(e.index)
                settlePending(at: e.index, of: r, requestID: nil, .success(.noOp), &s)
            case .normal:
                if e.data.isEmpty {
                    r.store.setAppliedIndex(e.index)
                    settlePending(at: e.index, of: r, requestID: nil, .success(.noOp), &s)
                } else {
                    applyCommand(e, to: r, &s)
                }
            }
            r.appliedIndex = e.index
            s.opsSinceCommit += 1
            s.metrics.appliedCommands += 1
        }
        // Records below the window of the next entry (and of a snapshot at the durable
        // index, which may be sent) decide nothing any more.
        let keepFrom = min(r.appliedIndex, r.durableApplied) + 1
        if keepFrom > r.appliedRequests.windowEntries {
            r.appliedRequests.evict(below: keepFrom - r.appliedRequests.windowEntries)
        }
    }

    func applyCommand(_ e: Entry, to r: RangeReplica, _ s: inout HostState) {
        let outcome: Result<CommandResult, ProposalError>
        let requestID: UInt64?
        do {
            let cmd = try RaftCommand.decode(e.data)
            requestID = cmd.requestID
            if cmd.requestID != 0, cmd.body.isDeduplicated,
               let first = r.appliedRequests.duplicate(of: cmd.requestID, at: e.index)
            {
                // A second entry of a request applied within the window (a retry that got
                // past proposal-time de-duplication): every replica skips it alike, and it
                // answers with the first outcome.
                s.metrics.duplicateEntriesSkipped += 1
                r.store.setAppliedIndex(e.index)
                settlePending(at: e.index, of: r, requestID: requestID, first, &s)
                return
            }
            outcome = execute(cmd, on: r)
            if case .success(let result) = outcome, cmd.requestID != 0 {
                r.appliedRequests.record(cmd.requestID, result, index: e.index)
            }
        } catch {
            // Every replica fails the same way on the same bytes: deterministic.
            requestID = nil
            outcome = .failure(.proposalDropped("undecodable command at index \(e.index): \(error)"))
        }
        if case .failure = outcome { r.store.setAppliedIndex(e.index) }
        settlePending(at: e.index, of: r, requestID: requestID, outcome, &s)
    }

    /// Completes the proposal this node appended at `index`, if any: with `outcome` when the
    /// applied entry is that proposal, with `.proposalDropped` when another leader's entry
    /// replaced it.
    func settlePending(at index: UInt64, of r: RangeReplica, requestID: UInt64?,
                       _ outcome: Result<CommandResult, ProposalError>, _ s: inout HostState) {
        guard let id = s.pendingAt[r.rangeID]?[index], let p = takePending(id, &s) else { return }
        guard id == requestID else {
            fail(p.waiters, .proposalDropped("entry \(index) was replaced by another leader's; not applied"), &s)
            return
        }
        if case .failure(.rejected(.revisionNotIncreasing)) = outcome, r.isLeader {
            // A definite failure (nothing applied): propose again with a fresh revision.
            var again = p.request
            again.eligibleFetch = s.revisionFetchSeq + 1
            r.leaderRevisions.waiting.append(again)
            s.rangesAwaitingRevisions.insert(r.rangeID)
            s.metrics.revisionRetries += 1
            return
        }
        if case .failure = outcome { s.metrics.proposalsFailed += 1 }
        if p.revision > 0, p.durableNs > 0, p.request.arrivedNs > 0 { notePutStages(p, &s) }
        p.waiters.resume(outcome)
    }

    /// Adds a settled write's stages to `NodeMetrics.putStageNanos` (the loop's clock).
    func notePutStages(_ p: PendingProposal, _ s: inout HostState) {
        let now = Self.nowNs()
        let marks = [p.request.arrivedNs, p.proposedNs, p.handedNs, p.durableNs, now]
        for i in 0..<4 where marks[i + 1] >= marks[i] { s.metrics.putStageNanos[i] += marks[i + 1] - marks[i] }
        s.metrics.putStageWrites += 1
    }

    /// Stamps the hand-off to the WAL (`handed`) or the durable time on the pending proposals of `entries`.
    func stampPending(_ entries: [Entry], of r: RangeReplica, handed: Bool, now: UInt64, _ s: inout HostState) {
        guard r.isLeader, let at = s.pendingAt[r.rangeID] else { return }
        for e in entries {
            guard let id = at[e.index] else { continue }
            if handed { s.pending[id]?.handedNs = now } else { s.pending[id]?.durableNs = now }
        }
    }

    /// Runs one command against MVCC. Deterministic given the store's state and the entry.
    func execute(_ cmd: RaftCommand, on r: RangeReplica) -> Result<CommandResult, ProposalError> {
        if cmd.epoch != r.descriptor.epoch {
            return .failure(.epochMismatch(current: r.descriptor))
        }
        let store = r.store
        // Writes carry their oracle revision; 0 only in logs written before global revisions.
        let revision = cmd.revision > 0 ? cmd.revision : store.currentRevision + 1
        do {
            switch cmd.body {
            case .put(let p):
                return .success(.put(try store.put(p, revision: revision)))
            case .deleteRange(let d):
                return .success(.deleteRange(try store.deleteRange(d, revision: revision)))
            case .txn(let t):
                return .success(.txn(try store.txn(t, revision: t.isReadOnly ? nil : revision)))
            case .compact(let rev):
                // A cluster-wide compaction point may lie above this range's last write: the
                // range's state at `rev` is its current state, so the range moves up to it
                // (a later write below it is refused and retried with a fresh revision).
                if rev > store.currentRevision { store.advanceRevision(to: rev) }
                return .success(.compact(try store.compact(rev)))
            case .noOp:
                return .success(.noOp)
            case .system(let bytes):
                return applySystem(bytes, index: 0, on: r)
            case .revokeLease(let id):
                return applyRevokeLease(id, revision: revision, on: r)
            case .granted(let grants, let body):
                return try applyGranted(grants, body, revision: revision, on: r)
            }
        } catch let e as MVCCError {
            return .failure(.rejected(e))
        } catch {
            fatalError("node \(nodeID): applying to \(r.rangeID) failed: \(error)")
        }
    }

    // MARK: group commit of applied state

    func commitAppliedIfDue(_ s: inout HostState, now: UInt64) {
        let due = s.forceCommit || s.opsSinceCommit >= config.applyCommitMaxOps
            || now - s.lastCommitNs >= UInt64(config.applyCommitIntervalMs) * 1_000_000
        guard due else { return }
        do {
            try commitApplied(&s, force: false)
        } catch {
            fatalError("node \(nodeID): MVCC commit failed: \(error)")
        }
        s.lastCommitNs = now
    }

    /// Commits, in one data-file transaction, every store whose applied index moved, then
    /// publishes the new durable points as the replicas' snapshot metadata.
    func commitApplied(_ s: inout HostState, force: Bool) throws {
        s.forceCommit = false
        s.opsSinceCommit = 0
        // Every MVCC change comes with an applied index, so the index alone finds the dirty
        // stores (no per-store lock for idle ranges); the final commit also checks the stores.
        let moved = s.replicas.values.filter { $0.appliedIndex > $0.durableApplied || (force && $0.store.hasPendingWrites) }
        guard !moved.isEmpty else { return }
        for group in Self.commitGroups(moved) { try MVCCStore.commit(group.map { ($0.store, $0.appliedIndex) }) }
        s.metrics.mvccCommits += 1
        for r in moved {
            r.durableApplied = r.appliedIndex
            r.publishSnapshotPoint(wal: wal)
        }
    }

    // MARK: WAL garbage collection

    func collectWALGarbageIfDue(_ s: inout HostState, now: UInt64) {
        guard now - s.lastGCNs >= UInt64(config.walGCIntervalMs) * 1_000_000 else { return }
        s.lastGCNs = now
        var durable: [RangeID: UInt64] = [:]
        for r in s.replicas.values { durable[r.rangeID] = r.durableApplied }
        do {
            let report = try wal.collectGarbage(durableApplied: durable)
            s.metrics.walSegmentsDeleted += UInt64(report.deletedSegments.count)
            // Ranges holding old segments back get their applied state committed soon.
            if !report.holdingBack.isEmpty { s.forceCommit = true }
        } catch {
            fatalError("node \(nodeID): WAL garbage collection failed: \(error)")
        }
    }
}
