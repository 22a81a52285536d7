import Base
import MVCC
import RaftCore

/// Proposals in the poll loop: validation, request de-duplication, write proposals waiting
/// for their oracle revisions, and appending to the leader's log.
///
/// A write proposal reaching the leader waits in its replica's `LeaderRevisions.waiting`
/// until an oracle fetch that STARTED after it arrived answers (`eligibleFetch`); the
/// loop keeps at most one fetch outstanding (through the node's `RevisionBatcher`, which
/// never blocks the loop: the answer comes back through the mailbox). The answer is
/// split over the ranges in the order of the fetch's demand; a revision is only used by a
/// replica still leading in the term it asked in, and only when it is above the replica's
/// closed revision and its last assigned one. Proposals left without a revision wait for
/// the next fetch. Non-writes are proposed at once with revision 0.
extension NodeHost {
    /// Validates the round's proposals (and held ones now ready) and proposes the
    /// non-writes of each range in one batch; writes go to the revision queue.
    func handleProposals(_ incoming: [ProposalRequest], _ s: inout HostState) {
        s.metrics.proposals += UInt64(incoming.count)
        var batches: [RangeID: [(ProposalRequest, Int64)]] = [:]
        var order: [RangeID] = []
        let now = incoming.isEmpty ? 0 : Self.nowNs()
        for var p in releaseHeldProposals(&s) + incoming {
            if p.arrivedNs == 0 { p.arrivedNs = now }
            guard let r = s.replicas[p.rangeID] else {
                fail(p.waiters, .rangeNotFound(p.rangeID), &s)
                continue
            }
            if let epoch = p.epoch, epoch != r.descriptor.epoch {
                fail(p.waiters, .epochMismatch(current: r.descriptor), &s)
                continue
            }
            r.wake()
            guard r.isLeader else {
                fail(p.waiters, .notLeader(leaderHint: r.leaderNode), &s)
                continue
            }
            if p.deduplicate {
                if r.appliedIndex < r.leaderRevisions.termStartIndex {
                    r.heldForDedup.append(p)
                    s.rangesHolding.insert(r.rangeID)
                    continue
                }
                if joinDuplicate(p, r, &batches, &s) { continue }
            }
            if p.isWrite {
                p.eligibleFetch = s.revisionFetchSeq + 1
                r.leaderRevisions.waiting.append(p)
                s.rangesAwaitingRevisions.insert(r.rangeID)
                continue
            }
            if batches[p.rangeID] == nil { order.append(p.rangeID) }
            batches[p.rangeID, default: []].append((p, 0))
        }
        for range in order {
            guard let r = s.replicas[range], let batch = batches[range] else { continue }
            append(batch, to: r, &s)
        }
    }

    /// A retry of a request this range applied recently, or one still in flight here:
    /// answers it with the first result or joins it to the first proposal's waiters.
    func joinDuplicate(_ p: ProposalRequest, _ r: RangeReplica, _ batches: inout [RangeID: [(ProposalRequest, Int64)]],
                       _ s: inout HostState) -> Bool {
        let id = p.requestID
        if let result = r.appliedRequests.result(of: id) {
            s.metrics.proposalsDeduplicated += 1
            p.waiters.resume(result)
            return true
        }
        if s.pending[id] != nil {
            s.pending[id]!.request.waiters.join(p.waiters)
        } else if let i = r.leaderRevisions.waiting.firstIndex(where: { $0.requestID == id }) {
            r.leaderRevisions.waiting[i].waiters.join(p.waiters)
        } else if let i = batches[r.rangeID]?.firstIndex(where: { $0.0.requestID == id }) {
            batches[r.rangeID]![i].0.waiters.join(p.waiters)
        } else {
            return false
        }
        s.metrics.proposalsDeduplicated += 1
        return true
    }

    /// Held proposals of replicas that have now applied their term's first entry.
    func releaseHeldProposals(_ s: inout HostState) -> [ProposalRequest] {
        guard !s.rangesHolding.isEmpty else { return [] }
        var released: [ProposalRequest] = []
        for range in s.rangesHolding {
            guard let r = s.replicas[range] else {
                s.rangesHolding.remove(range)
                continue
            }
            guard !r.isLeader || r.appliedIndex >= r.leaderRevisions.termStartIndex else { continue }
            released += r.heldForDedup
            r.heldForDedup = []
            s.rangesHolding.remove(range)
        }
        return released
    }

    /// Appends `batch` (proposal, revision) to the leader's log in one `propose(batch:)`
    /// and records the pending proposals by log index.
    func append(_ batch: [(ProposalRequest, Int64)], to r: RangeReplica, _ s: inout HostState) {
        let data = batch.map { p, revision in
            RaftCommand(requestID: p.requestID, epoch: p.epoch ?? r.descriptor.epoch, revision: revision,
                        body: p.body).encoded()
        }
        r.wake()
        do throws(RaftError) {
            try r.raw.propose(batch: data)
        } catch {
            // Proposals are never forwarded (`RangeReplica`): a replica that stopped leading
            // before its soft state said so refuses here, and nothing was appended.
            let e: ProposalError
            switch error {
            case .notLeader(let hint): e = .notLeader(leaderHint: r.node(of: hint) ?? .none)
            case .noLeader: e = .notLeader(leaderHint: .none)
            default: e = .proposalDropped("\(error)")
            }
            for (p, _) in batch { fail(p.waiters, e, &s) }
            return
        }
        // Accepted entries were appended, in order, at the end of the leader's log.
        let first = r.raw.status.lastIndex - UInt64(batch.count) + 1
        let now = Self.nowNs()
        for (i, (p, revision)) in batch.enumerated() {
            let index = first + UInt64(i)
            s.pending[p.requestID] = PendingProposal(request: p, index: index, revision: revision, proposedNs: now)
            s.pendingAt[r.rangeID, default: [:]][index] = p.requestID
            if revision > 0 { r.leaderRevisions.noteAppended(revision: revision, index: index) }
        }
    }

    // MARK: revisions

    /// Starts an oracle fetch for every waiting write when none is outstanding. `beforeReadies`:
    /// called before the round collects its Readies, which then carry the loop oracle's
    /// ReadIndex (no extra round needed to send it).
    func startRevisionFetchIfNeeded(_ s: inout HostState, beforeReadies: Bool = false) {
        guard !s.revisionFetchInFlight, !s.rangesAwaitingRevisions.isEmpty else { return }
        var demand: [RevisionDemand] = []
        var total = 0
        for range in s.rangesAwaitingRevisions {
            guard let r = s.replicas[range], r.isLeader, !r.leaderRevisions.waiting.isEmpty else {
                s.rangesAwaitingRevisions.remove(range)
                continue
            }
            demand.append(RevisionDemand(rangeID: range, term: r.leaderRevisions.term,
                                         count: r.leaderRevisions.waiting.count))
            total += r.leaderRevisions.waiting.count
        }
        guard total > 0 else { return }
        s.revisionFetchSeq += 1
        s.revisionFetchInFlight = true
        s.revisionDemand = demand
        s.metrics.revisionFetches += 1
        let seq = s.revisionFetchSeq
        if loopOracleServes(s) {
            // The loop confirms and takes the revisions itself (`NodeHost+LoopOracle`); the
            // ReadIndex's heartbeats leave with the next round's Ready, which this wakes.
            issueOracleConfirmation([.fetch(seq: seq, count: total)], &s)
            if !beforeReadies { _ = enqueue { _ in true } }
            return
        }
        Task { [self] in
            let answer = await batchedRevisions(count: total)
            _ = enqueue { m in
                m.revisionAnswers.append((seq, answer))
                return true
            }
        }
    }

    /// Hands the answered revisions to the waiting writes they were fetched for and
    /// proposes them; fails them when the oracle failed (they were never proposed).
    func handleRevisionAnswers(_ answers: [(UInt64, Result<ClosedRange<Int64>, ProposalError>)], _ s: inout HostState) {
        for (seq, answer) in answers where s.revisionFetchInFlight && seq == s.revisionFetchSeq {
            s.revisionFetchInFlight = false
            let demand = s.revisionDemand
            s.revisionDemand = []
            var next: Int64
            switch answer {
            case .success(let block): next = block.lowerBound
            case .failure(let e):
                for d in demand {
                    guard let r = s.replicas[d.rangeID] else { continue }
                    let (eligible, rest) = partition(r.leaderRevisions.waiting) { $0.eligibleFetch <= seq }
                    r.leaderRevisions.waiting = rest
                    for p in eligible { fail(p.waiters, .proposalDropped("no revision from the oracle: \(e)"), &s) }
                }
                continue
            }
            for d in demand {
                let revisions = next...(next + Int64(d.count) - 1)
                next += Int64(d.count)
                guard let r = s.replicas[d.rangeID], r.isLeader, r.leaderRevisions.term == d.term else { continue }
                var floor = max(r.leaderRevisions.closed, r.leaderRevisions.lastAssigned)
                var usable = revisions.drop { $0 <= floor }.makeIterator()
                var batch: [(ProposalRequest, Int64)] = []
                var rest: [ProposalRequest] = []
                for p in r.leaderRevisions.waiting {
                    if p.eligibleFetch <= seq, let revision = usable.next() {
                        batch.append((p, revision))
                        floor = revision
                    } else {
                        rest.append(p)
                    }
                }
                r.leaderRevisions.waiting = rest
                if batch.count < d.count { s.metrics.revisionsDiscarded += UInt64(d.count - batch.count) }
                if !batch.isEmpty { append(batch, to: r, &s) }
            }
        }
    }

    /// `count` revisions through the node's batcher (one outstanding oracle request).
    func batchedRevisions(count: Int) async -> Result<ClosedRange<Int64>, ProposalError> {
        await revisionBatcher.revisions(count: count) { [self] n throws(ProposalError) in
            try await freshRevisions(count: n)
        }
    }

    // MARK: failing

    /// The replica stopped leading: its appended proposals will most likely not apply here.
    /// They fail now (the outcome is unknown, as etcd's "leader changed") instead of timing
    /// out; writes still waiting for a revision were never proposed (not leader).
    func failPendingAfterLeaderChange(_ r: RangeReplica, _ s: inout HostState) {
        let hint = r.leaderNode
        for p in r.leaderRevisions.takeWaiting() + r.heldForDedup { fail(p.waiters, .notLeader(leaderHint: hint), &s) }
        r.heldForDedup = []
        guard s.pendingAt[r.rangeID]?.isEmpty == false else { return }
        for (id, p) in s.pending where p.rangeID == r.rangeID {
            _ = takePending(id, &s)
            fail(p.waiters, .proposalDropped("leader changed; the write may still apply"), &s)
        }
    }

    /// Fails every proposal of `r` that has not been appended (waiting or held).
    func failUnappended(of r: RangeReplica, _ e: ProposalError, _ s: inout HostState) {
        for p in r.leaderRevisions.takeWaiting() + r.heldForDedup { fail(p.waiters, e, &s) }
        r.heldForDedup = []
    }

    func fail(_ w: ProposalWaiters, _ e: ProposalError, _ s: inout HostState) {
        s.metrics.proposalsFailed += 1
        w.resume(.failure(e))
    }

    /// Removes a pending proposal (applied, timed out or dropped) and returns it.
    func takePending(_ id: UInt64, _ s: inout HostState) -> PendingProposal? {
        guard let p = s.pending.removeValue(forKey: id) else { return nil }
        s.pendingAt[p.rangeID]?[p.index] = nil
        if s.pendingAt[p.rangeID]?.isEmpty == true { s.pendingAt[p.rangeID] = nil }
        return p
    }

    func expireProposals(_ s: inout HostState, now: UInt64) {
        let expired = s.pending.filter { $0.value.deadlineNs <= now }.map(\.key)
        for id in expired {
            guard let p = takePending(id, &s) else { continue }
            fail(p.waiters, .timeout, &s)
        }
        for range in s.rangesAwaitingRevisions.union(s.rangesHolding) {
            guard let r = s.replicas[range] else { continue }
            let (late, waiting) = partition(r.leaderRevisions.waiting) { $0.deadlineNs <= now }
            let (lateHeld, held) = partition(r.heldForDedup) { $0.deadlineNs <= now }
            r.leaderRevisions.waiting = waiting
            r.heldForDedup = held
            for p in late + lateHeld { fail(p.waiters, .timeout, &s) }
        }
    }
}

/// What one oracle fetch asked revisions for: `count` waiting writes of `rangeID`, whose
/// replica led in `term`.
struct RevisionDemand {
    var rangeID: RangeID
    var term: UInt64
    var count: Int
}

/// Splits `items` into those matching `isIncluded` and the rest, both in order.
func partition<T>(_ items: [T], _ isIncluded: (T) -> Bool) -> (matching: [T], rest: [T]) {
    var a: [T] = []
    var b: [T] = []
    for x in items { if isIncluded(x) { a.append(x) } else { b.append(x) } }
    return (a, b)
}
