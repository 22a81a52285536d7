import Base
import MVCC
import RaftCore

/// The oracle served inside the poll loop when this node leads the system range (session 11).
///
/// The async oracle path (`freshRevisions` → `oracleRevisions` → `confirmSystemLeadership`)
/// costs a chain of task hops per fetch: the loop starts a task, the `RevisionBatcher`
/// another, the confirmation rounds a third, whose ReadIndex read goes back through the
/// mailbox into the loop and out again through three continuations before the answer
/// re-enters the mailbox. Here the loop does the same steps itself, with no task:
/// 1. the round's wants — the loop's own fetch for writes waiting for revisions
///    (`startRevisionFetchIfNeeded`) and the `freshRevision` calls taken from the mailbox
///    (read points of linearizable reads) — are collected, and ONE ReadIndex is issued on
///    the system range for them, in the round they arrived in (so after every one arrived);
/// 2. once Raft confirmed it (a heartbeat quorum in the leader's term) and the system
///    replica applied the read index, the loop checks that its replica still leads in the
///    term it issued the ReadIndex in, starts the term's leader session if needed, and takes
///    the revisions from the session's block in memory.
/// That is `confirmSystemLeadership` + `takeOracleRevisions` step for step (a confirmation
/// that started after the request arrived, bracketed by the term; its safety argument is in
/// `NodeHost+SystemLeadership.swift`), without the hops. Whatever this path cannot serve at
/// once — the block is exhausted (an allocation must run through Raft), the term moved, the
/// replica stopped leading, the confirmation timed out — falls back to the async path,
/// which handles those cases as before. `NodeConfig.oracleInLoop` (env
/// `FLOTILLA_ORACLE_IN_LOOP=0` turns it off) is the switch.
extension NodeHost {
    /// Whether the loop serves oracle revisions itself now: the switch is on, no configured
    /// source, and this node's replica of the system range leads (as the loop knows it).
    func loopOracleServes(_ s: HostState) -> Bool {
        config.oracleInLoop && config.revisionSource == nil && s.replicas[.system]?.isLeader == true
    }

    /// `count` fresh revisions for a caller outside the loop (`freshRevision`): through the
    /// loop's oracle when this node leads the system range, else the batched async path.
    func loopOrBatchedRevisions(count: Int) async -> Result<ClosedRange<Int64>, ProposalError> {
        guard config.oracleInLoop, config.revisionSource == nil, view(of: .system)?.isLeader == true else {
            return await batchedRevisions(count: count)
        }
        return await withCheckedContinuation { (c: CheckedContinuation<Result<ClosedRange<Int64>, ProposalError>, Never>) in
            let accepted = enqueue { m in
                guard !m.stopping else { return false }
                m.oracleCalls.append(OracleCall.Waiter(count: count, direct: false, reply: { c.resume(returning: $0) }))
                return true
            }
            if !accepted { c.resume(returning: .failure(.proposalDropped("node stopped"))) }
        }
    }

    /// A peer's `oracleRevisions` call (tag 0x15) answered through the loop's oracle when
    /// this node leads the system range (no task), else through `oracleRevisions` in a task.
    func oracleRevisions(count: Int, reply: @escaping @Sendable (Result<ClosedRange<Int64>, ProposalError>) -> Void) {
        let waiter = OracleCall.Waiter(count: count, direct: true, reply: reply)
        guard config.oracleInLoop, config.revisionSource == nil, view(of: .system)?.isLeader == true else {
            fallBack([.caller(waiter)])
            return
        }
        let accepted = enqueue { m in
            guard !m.stopping else { return false }
            m.oracleCalls.append(waiter)
            return true
        }
        if !accepted { reply(.failure(.proposalDropped("node stopped"))) }
    }

    /// Takes the round's oracle calls from the mailbox and issues their confirmation (step 1).
    func handleOracleCalls(_ calls: [OracleCall.Waiter], _ s: inout HostState) {
        guard !calls.isEmpty else { return }
        let wants = calls.map { LoopOracle.Want.caller($0) }
        guard loopOracleServes(s) else {
            fallBack(wants)
            return
        }
        issueOracleConfirmation(wants, &s)
    }

    /// One ReadIndex on the system range for `wants` (step 1); the replica is marked touched
    /// so this round's Ready carries the heartbeats. At most one confirmation is in flight (as
    /// the async path's batcher keeps one fetch outstanding): wants arriving meanwhile wait
    /// and share the next one, which starts after they arrived.
    func issueOracleConfirmation(_ wants: [LoopOracle.Want], _ s: inout HostState) {
        if !wants.isEmpty && serveUnderLease(wants, &s) { return }
        guard s.loopOracle.confirming.isEmpty else {
            s.loopOracle.queued += wants
            return
        }
        guard let r = s.replicas[.system] else {
            fallBack(wants)
            return
        }
        let term = r.raw.term
        // Read before the ReadIndex is handed to Raft: its heartbeats leave after this.
        let issuedNs = OracleLease.clockNs()
        let batch = nextRequestID()
        s.readBatches[batch] = ReadBatch(rangeID: .system)
        s.readBatches[batch]?.members = 1
        s.readsPerRange[.system, default: 0] += 1
        s.loopOracle.confirming[batch] = LoopOracle.Confirmation(
            term: term, deadlineNs: Self.nowNs() + UInt64(config.proposalTimeoutMs) * 1_000_000, wants: wants,
            issuedNs: issuedNs)
        r.wake()
        r.touched = true
        var context = BinaryWriter(capacity: 8)
        context.write(batch)
        r.raw.readIndex(context: context.bytes)
        s.metrics.readIndexRequests += 1
        s.metrics.loopOracleRounds += 1
    }

    /// Serves every confirmation whose read index the system replica has applied (step 2);
    /// falls back for those that can no longer be served here.
    func serveLoopOracle(_ s: inout HostState, now: UInt64) {
        guard !s.loopOracle.confirming.isEmpty || !s.loopOracle.queued.isEmpty else { return }
        for (batch, c) in s.loopOracle.confirming {
            guard let r = s.replicas[.system], r.isLeader else {
                endConfirmation(batch, &s)
                fallBack(c.wants)
                continue
            }
            guard let index = s.readBatches[batch]?.index, r.appliedIndex >= index else {
                if c.deadlineNs <= now {
                    endConfirmation(batch, &s)
                    fallBack(c.wants)
                }
                continue
            }
            endConfirmation(batch, &s)
            guard r.raw.isLeader, r.raw.term == c.term else {
                fallBack(c.wants)
                continue
            }
            do {
                try system.startSession(term: c.term, store: r.store, nowNs: now)
            } catch {
                fail(c.wants, .proposalDropped("system range state unreadable: \(error)"))
                continue
            }
            if r.raw.transferStartTerm != c.term {
                system.leaseConfirmed(term: c.term, issuedNs: c.issuedNs, durationNs: config.oracleLeaseNs)
            }
            guard !c.wants.isEmpty else { continue }  // a lease renewal
            let total = c.wants.reduce(0) { $0 + $1.count }
            switch system.take(total, term: c.term) {
            case .served(let revisions, let refill):
                if refill { Task { await self.runOracleAllocation(atLeast: 1) } }
                var next = revisions.lowerBound
                for w in c.wants {
                    deliver(w, .success(next...(next + Int64(w.count) - 1)))
                    next += Int64(w.count)
                }
            case .needBlock, .staleTerm:
                fallBack(c.wants)
            }
        }
        if s.loopOracle.confirming.isEmpty && !s.loopOracle.queued.isEmpty {
            let queued = s.loopOracle.queued
            s.loopOracle.queued = []
            if loopOracleServes(s) {
                issueOracleConfirmation(queued, &s)
                _ = enqueue { _ in true }  // this round's Readies are collected: send it next round
            } else {
                fallBack(queued)
            }
        }
    }

    /// Serves `wants` at once when the oracle lease of the system range's term holds (no
    /// confirmation round: `OracleLease`), taking the revisions from the session's block; a
    /// write fetch is answered in this round. Starts a renewal round when the lease is past
    /// half its life and no round is in flight. false: the lease does not hold or the block
    /// is too small — confirm with a round as before.
    func serveUnderLease(_ wants: [LoopOracle.Want], _ s: inout HostState) -> Bool {
        let durationNs = config.oracleLeaseNs
        guard durationNs > 0, let r = s.replicas[.system], r.raw.isLeader else { return false }
        let term = r.raw.term
        let now = OracleLease.clockNs()
        guard r.raw.transferStartTerm != term, system.leasedTerm(nowNs: now) == term else { return false }
        let total = wants.reduce(0) { $0 + $1.count }
        guard case .served(let revisions, let refill) = system.take(total, term: term) else { return false }
        if refill { Task { await self.runOracleAllocation(atLeast: 1) } }
        system.leaseServes.add(1, ordering: .relaxed)
        var next = revisions.lowerBound
        for w in wants {
            let mine = next...(next + Int64(w.count) - 1)
            next += Int64(w.count)
            if case .fetch(let seq, _) = w {
                handleRevisionAnswers([(seq, .success(mine))], &s)
            } else {
                deliver(w, .success(mine))
            }
        }
        if s.loopOracle.confirming.isEmpty,
           system.state.withLock({ $0.lease.wantsRenewal(term: term, nowNs: now, durationNs: durationNs) }) {
            issueOracleConfirmation([], &s)
            _ = enqueue { _ in true }  // its heartbeats leave with the next round's Readies
        }
        return true
    }

    /// Voids the oracle lease of a term in which range 1's replica here began a leadership
    /// transfer, or stopped leading. Called every round after the round's input and ticks
    /// were stepped and before its Readies are collected: before a transfer's `timeoutNow`
    /// can leave, and before a vote this replica grants after stepping down can (the leader
    /// counts itself in the quorum that confirmed the lease; while it leads it ignores vote
    /// requests, `Raft.ignoresVoteRequests`).
    func guardOracleLease(_ s: inout HostState) {
        guard let r = s.replicas[.system] else { return }
        let leadingTerm = r.raw.isLeader ? r.raw.term : 0
        if leadingTerm != s.loopOracle.leadingTerm {
            if s.loopOracle.leadingTerm != 0 { system.voidLease(through: s.loopOracle.leadingTerm) }
            s.loopOracle.leadingTerm = leadingTerm
        }
        let t = r.raw.transferStartTerm
        guard t > s.loopOracle.voidedTransferTerm else { return }
        s.loopOracle.voidedTransferTerm = t
        system.voidLease(through: t)
    }

    private func endConfirmation(_ batch: UInt64, _ s: inout HostState) {
        s.loopOracle.confirming[batch] = nil
        s.leaveReadBatch(batch)
        s.readsPerRange[.system, default: 1] -= 1
        if s.readsPerRange[.system] == 0 { s.readsPerRange[.system] = nil }
    }

    /// Hands an answer to its want: a caller's continuation, or the loop's own fetch through
    /// the mailbox (handled at the start of the next round, which the enqueue triggers).
    private func deliver(_ w: LoopOracle.Want, _ answer: Result<ClosedRange<Int64>, ProposalError>) {
        switch w {
        case .caller(let waiter):
            waiter.reply(answer)
        case .fetch(let seq, _):
            _ = enqueue { m in
                m.revisionAnswers.append((seq, answer))
                return true
            }
        case .reads(let reads):
            switch answer {
            case .success(let revisions):
                // One read point for the round's fresh reads: it is above every revision
                // handed out before any of them reached the loop. Back to the loop as reads
                // at it (the range's ReadIndex is issued after the point was taken).
                let at = reads.map { q -> ReadRequest in
                    var q = q
                    q.revision = revisions.lowerBound
                    q.takesFreshPoint = false
                    return q
                }
                let accepted = enqueue { m in
                    guard !m.stopping else { return false }
                    m.reads += at
                    return true
                }
                if !accepted { for q in at { q.fail(.proposalDropped("node stopped")) } }
            case .failure(let e):
                for q in reads { q.fail(.proposalDropped("no fresh revision: \(e)")) }
            }
        }
    }

    /// Takes one read point for the round's fresh reads (already checked: this node leads
    /// their ranges): through the loop's oracle, else one async fetch.
    func fetchReadPoint(for reads: [ReadRequest], _ s: inout HostState) {
        let want = LoopOracle.Want.reads(reads)
        if loopOracleServes(s) {
            issueOracleConfirmation([want], &s)
        } else {
            fallBack([want])
        }
    }

    private func fail(_ wants: [LoopOracle.Want], _ e: ProposalError) {
        for w in wants { deliver(w, .failure(e)) }
    }

    /// The async path for wants this loop cannot serve (it confirms, allocates and follows
    /// leader hints as before session 11).
    func fallBack(_ wants: [LoopOracle.Want]) {
        guard !wants.isEmpty else { return }
        for w in wants {
            if case .caller(let waiter) = w, waiter.direct {
                Task { [self] in
                    do throws(ProposalError) {
                        deliver(w, .success(try await oracleRevisions(count: waiter.count)))
                    } catch {
                        deliver(w, .failure(error))
                    }
                }
                continue
            }
            Task { [self] in deliver(w, await batchedRevisions(count: w.count)) }
        }
    }

    /// Fails the oracle calls still waiting (the node stops).
    func failLoopOracle(_ s: inout HostState) {
        let all = s.loopOracle.confirming.values.flatMap(\.wants) + s.loopOracle.queued
        s.loopOracle.confirming = [:]
        s.loopOracle.queued = []
        for w in all {
            switch w {
            case .caller(let waiter): waiter.reply(.failure(.proposalDropped("node stopped")))
            case .reads(let reads): for q in reads { q.fail(.proposalDropped("node stopped")) }
            case .fetch: break
            }
        }
    }
}

extension OracleCall {
    /// A `freshRevision` caller waiting in the mailbox for the loop's oracle.
    struct Waiter: Sendable {
        var count: Int
        /// A peer's `oracleRevisions` call (it must be answered by the system range leader:
        /// the fallback runs `oracleRevisions`, which refuses elsewhere with the leader hint),
        /// not a local `freshRevision` (whose fallback fetches wherever the oracle is).
        var direct: Bool
        /// Called once, on the poll loop or the fallback's task; must not call back into the host.
        var reply: @Sendable (Result<ClosedRange<Int64>, ProposalError>) -> Void
    }
}

/// The loop oracle's confirmations in flight, by ReadIndex batch ID (`NodeHost+LoopOracle`).
/// Owned by the poll loop (`HostState.loopOracle`).
struct LoopOracle {
    /// Who waits for revisions: the loop's own fetch for waiting writes (answered through
    /// the mailbox as `revisionAnswers`), or a caller outside the loop.
    enum Want {
        case fetch(seq: UInt64, count: Int)
        case caller(OracleCall.Waiter)
        /// Fresh reads (`readFresh`) sharing one read point.
        case reads([ReadRequest])

        var count: Int {
            switch self {
            case .fetch(_, let n): n
            case .caller(let w): w.count
            case .reads: 1
            }
        }
    }

    struct Confirmation {
        /// The system range term the ReadIndex was issued in (the revisions are taken only
        /// if the replica still leads in it).
        var term: UInt64
        var deadlineNs: UInt64
        /// Empty: a lease renewal (`serveUnderLease`).
        var wants: [Want]
        /// The lease clock when the ReadIndex was issued (`OracleLease`).
        var issuedNs: UInt64
    }

    var confirming: [UInt64: Confirmation] = [:]
    /// The newest term whose lease the loop voided for a transfer (`guardOracleLease`).
    var voidedTransferTerm: UInt64 = 0
    /// The term range 1's replica here led in at the last round (0: not leading).
    var leadingTerm: UInt64 = 0
    /// Wants that arrived while a confirmation was in flight: they share the next one.
    var queued: [Want] = []
}
