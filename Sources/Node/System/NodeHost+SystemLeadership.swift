import Base
import MVCC
import RaftCore

/// Confirming that this node leads the system range, batched: every oracle and lease call
/// first waits for a confirmation round that STARTED after the call arrived. One round is
/// one ReadIndex on range 1 (a heartbeat quorum in the leader's term, then everything
/// committed before applied), bracketed by two reads of the Raft term that must agree; it
/// then starts the term's leader session if needed. Callers arriving during a round share
/// the next one, so N concurrent calls cost one Raft round, not N.
///
/// Why this makes the oracle safe: a previous leader hands out revisions only from blocks
/// committed before this leader's term began (its blocks are applied before this leader's
/// session starts, and this leader's blocks lie above them), and a later leader can only be
/// elected after a quorum member acknowledged this round's heartbeat, that is, after every
/// caller of the round arrived.
///
/// With the oracle lease (`NodeConfig.oracleLease`), a call arriving while the lease of the
/// session's term holds skips the round: no other leader can have been elected before the
/// lease ends (`OracleLease`), and the lease is read after the call arrived. Each round
/// renews the lease from the time it was issued.
extension NodeHost {
    /// The confirmed term of this node's system range leadership.
    func confirmSystemLeadership() async throws(ProposalError) -> UInt64 {
        if config.oracleLeaseNs > 0, let term = system.leasedTerm(nowNs: OracleLease.clockNs()) {
            system.leaseServes.add(1, ordering: .relaxed)
            return term
        }
        let result = await withCheckedContinuation { (c: SystemRangeRuntime.ConfirmWaiter) in
            let startRounds = system.state.withLock { s -> Bool in
                s.confirmWaiters.append(c)
                guard !s.confirming else { return false }
                s.confirming = true
                return true
            }
            if startRounds { Task { await self.runConfirmationRounds() } }
        }
        return try result.get()
    }

    /// Runs rounds until no caller waits.
    func runConfirmationRounds() async {
        while true {
            let waiters = system.state.withLock { s in
                let w = s.confirmWaiters
                s.confirmWaiters = []
                if w.isEmpty { s.confirming = false }
                return w
            }
            guard !waiters.isEmpty else { return }
            let result: Result<UInt64, ProposalError>
            do {
                result = .success(try await confirmOnce())
            } catch {
                result = .failure(error)
            }
            for w in waiters { w.resume(returning: result) }
        }
    }

    /// One confirmation round.
    private func confirmOnce() async throws(ProposalError) -> UInt64 {
        guard let before = raftStatus(of: .system) else { throw .notLeader(leaderHint: systemLeader()) }
        guard before.softState.role == .leader else { throw .notLeader(leaderHint: systemLeader()) }
        let term = before.hardState.term
        // Read before the ReadIndex reaches the loop: the round's heartbeats leave after it.
        let issuedNs = OracleLease.clockNs()
        _ = try await read(RangeRequest(key: SystemStateMachine.oracleKey), in: .system)
        guard let after = raftStatus(of: .system), after.softState.role == .leader, after.hardState.term == term,
            let store = store(for: .system)
        else { throw .notLeader(leaderHint: systemLeader()) }
        do {
            try system.startSession(term: term, store: store, nowNs: Self.nowNs())
        } catch {
            throw .proposalDropped("system range state unreadable: \(error)")
        }
        // A transfer begun meanwhile voided the term (the loop checks every round): no lease.
        system.leaseConfirmed(term: term, issuedNs: issuedNs, durationNs: config.oracleLeaseNs)
        return term
    }

    /// Proposes a system command to range 1 on this node and decodes its answer.
    func proposeSystem(_ command: SystemCommand) async throws(ProposalError) -> SystemAnswer {
        let result = try await propose(.system(command.encoded()), to: .system)
        guard case .system(let bytes) = result, let answer = try? SystemAnswer.decode(bytes) else {
            throw .proposalDropped("system command answered \(result)")
        }
        return answer
    }
}
