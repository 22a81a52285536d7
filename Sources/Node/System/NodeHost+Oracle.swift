import Base

/// The revision oracle (TSO) on the system range leader. Revisions are served from memory
/// out of the term's block (`SystemLeaderSession`); a block is allocated through Raft
/// (`SystemCommand.allocateRevisions`, which raises the persisted high-water mark) when the
/// block runs low (in the background, below half a block left) or out (callers wait). At
/// most one allocation is in flight per node; callers that need a block meanwhile wait for
/// it together.
extension NodeHost {
    /// See `oracleRevisions(count:)` in NodeHost+System.swift.
    func takeOracleRevisions(count: Int) async throws(ProposalError) -> ClosedRange<Int64> {
        guard count >= 1, Int64(count) <= SystemStateMachine.maxAllocation else {
            throw .proposalDropped("oracle: count \(count) out of range")
        }
        var term = try await confirmSystemLeadership()
        var blockWaits = 0
        var reconfirmed = false
        while true {
            switch system.take(count, term: term) {
            case .served(let revisions, let refill):
                if refill { Task { await self.runOracleAllocation(atLeast: 1) } }
                return revisions
            case .staleTerm:
                // The session moved to a newer term after our round: confirm it once more.
                guard !reconfirmed else { throw .notLeader(leaderHint: systemLeader()) }
                reconfirmed = true
                term = try await confirmSystemLeadership()
            case .needBlock:
                blockWaits += 1
                guard blockWaits <= 4 else { throw .proposalDropped("oracle: no revision block could be allocated") }
                try await awaitOracleBlock(atLeast: count)
            }
        }
    }

    /// Waits for the in-flight allocation, or runs one.
    private func awaitOracleBlock(atLeast count: Int) async throws(ProposalError) {
        let runHere = await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            let join = system.state.withLock { s -> Bool in
                guard s.allocating else {
                    s.allocating = true
                    return false
                }
                s.allocationWaiters.append(c)
                return true
            }
            if !join { c.resume(returning: true) }
        }
        guard runHere else { return }
        if let error = await runOracleAllocation(atLeast: count) { throw error }
    }

    /// Proposes one block allocation (the caller marked it in flight), then wakes every
    /// waiter. The applied block reaches the session through `applySystem`, so the
    /// proposal's own answer is not needed (and a lost answer loses nothing but a gap).
    @discardableResult
    func runOracleAllocation(atLeast count: Int) async -> ProposalError? {
        let size = max(system.blockSize, Int64(count))
        var failure: ProposalError?
        do {
            _ = try await proposeSystem(.allocateRevisions(count: size))
        } catch {
            failure = error
        }
        let waiters = system.state.withLock { s in
            s.allocating = false
            let w = s.allocationWaiters
            s.allocationWaiters = []
            return w
        }
        for w in waiters { w.resume(returning: false) }
        return failure
    }
}
