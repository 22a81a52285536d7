public import Base
public import RaftCore

/// The liveness phase. Faults stop: the partition heals, loss and duplication go to
/// zero, every crashed (non-removed) replica restarts. Then a leader must emerge whose
/// term all live members share and which has committed an entry of its term; the
/// simulator proposes `livenessProposals` entries there, and each must be applied by
/// every live member (the non-retired members of the leader's applied configuration),
/// all within `livenessBoundTicks` ticks of healing.
///
/// The bound is 50 election timeouts plus the time to ship the backlog. Once the
/// network is healed an election settles within a few randomized timeouts of at most
/// 2 x `electionTicks` each (split votes are rare and independent; disruptive rejoiners
/// without pre-vote cost one more election each) and committing a proposal takes one
/// round trip: 50 timeouts leave an order of magnitude of margin. But a new leader
/// commits nothing until its log up to its own no-op reaches a quorum, and a run whose
/// leader piled up uncommitted proposals during the faults may need to ship hundreds of
/// entries through small messages (`maxSizePerMsg` down to 64 bytes) and a window of
/// `maxInflightMsgs` (down to 1). So the bound adds, for the backlog at healing (largest
/// last index minus smallest commit index), twice the round trips that shipping it
/// needs at <= 32 bytes per entry. A miss then means a stuck protocol, not a slow one.
/// A proposal the client has not seen applied after 2 election timeouts is proposed
/// again (as a client retrying against a new leader would; IDs deduplicate).
extension Simulator {
    mutating func checkLiveness() throws(SafetyViolation) {
        faultPhase = false
        network.faults = options.healedNetwork
        network.partition.heal()
        trace.record(.phase("heal: faults stop, crashed replicas restart"), step: clock.now)
        for i in replicas.indices {
            replicas[i].tornWritePending = false
            if !replicas[i].isRunning && !replicas[i].retired { try start(i) }
        }
        let healTick = clock.ticks
        let bound = livenessBound()
        trace.record(.note("liveness bound: \(bound) ticks"), step: clock.now)
        let deadline = healTick + bound
        var proposals: [UInt64] = []
        var lastAttemptTick = 0
        let retryTicks = 2 * options.electionTicks
        while clock.ticks <= deadline {
            try step()
            guard clock.isTickBoundary else { continue }
            guard let l = stableLeader() else { continue }
            if proposals.isEmpty {
                for _ in 0..<options.livenessProposals { proposals.append(try propose(at: l)) }
                lastAttemptTick = clock.ticks
                continue
            }
            let missing = proposals.filter { appliedAt[$0] == nil }
            if missing.isEmpty {
                let target = proposals.map { appliedAt[$0]! }.max()!
                if liveMembers(of: l).allSatisfy({ replicas[$0].machine.appliedIndex >= target }) {
                    stats.livenessTicks = clock.ticks - healTick
                    trace.record(.phase("liveness ok after \(stats.livenessTicks) ticks"), step: clock.now)
                    return
                }
            } else if clock.ticks - lastAttemptTick >= retryTicks {
                trace.record(.note("client retries \(missing.count) proposals at r\(replicas[l].id)"), step: clock.now)
                for p in missing { try repropose(p, at: l) }
                lastAttemptTick = clock.ticks
            }
        }
        throw SafetyViolation(.liveness, livenessReport(healTick: healTick, bound: bound, proposals: proposals))
    }

    /// `livenessBoundTicks` plus the catch-up allowance described above.
    func livenessBound() -> Int {
        let active = replicas.filter { !$0.retired && $0.incarnation > 0 }
        let maxLast = active.map { $0.storage.lastIndex() }.max() ?? 0
        let minCommit = active.map { $0.storage.hardState.commit }.min() ?? 0
        let backlog = Int(maxLast > minCommit ? maxLast - minCommit : 0)
        let entriesPerMessage = max(1, Int(options.maxSizePerMsg / 32))
        let perRoundTrip = entriesPerMessage * max(1, options.maxInflightMsgs)
        let delayTicks = (options.healedNetwork.maxDelaySteps + options.stepsPerTick - 1) / options.stepsPerTick
        let roundTripTicks = 2 * delayTicks + options.heartbeatTicks + 1
        let roundTrips = (backlog + perRoundTrip - 1) / perRoundTrip
        return options.livenessBoundTicks + 2 * roundTrips * roundTripTicks
    }

    /// A leader whose term every live member shares and that committed an entry of it.
    func stableLeader() -> Int? {
        guard let l = leaderIndices.first else { return nil }
        let leader = replicas[l]
        guard leader.storage.termIfPresent(leader.commit) == leader.term else { return nil }
        for m in liveMembers(of: l) where !replicas[m].isRunning || replicas[m].term != leader.term { return nil }
        return l
    }

    /// Indices of the non-retired members of replica `l`'s applied configuration.
    func liveMembers(of l: Int) -> [Int] {
        SimReplica.members(replicas[l].machine.confState).sorted().compactMap { id in
            guard let j = indexOf[id], !replicas[j].retired else { return nil }
            return j
        }
    }

    mutating func repropose(_ proposal: UInt64, at i: Int) throws(SafetyViolation) {
        var failure: RaftError?
        do { try replicas[i].node!.propose(Workload.payload(id: proposal, fillerBytes: 0)) } catch { failure = error }
        trace.record(.propose(replicas[i].id, proposal: proposal, error: failure), step: clock.now)
        try drain(i)
    }

    func livenessReport(healTick: Int, bound: Int, proposals: [UInt64]) -> String {
        var lines = ["no progress within \(bound) ticks of healing (tick \(healTick))"]
        let applied = proposals.filter { appliedAt[$0] != nil }.count
        lines.append("proposals: \(proposals.count) made, \(applied) applied somewhere")
        for r in replicas {
            let state = r.retired ? "retired" : (r.isRunning ? "\(r.role)" : "down")
            lines.append("  r\(r.id): \(state) term=\(r.term) leader=\(r.leader) commit=\(r.commit) applied=\(r.machine.appliedIndex) last=\(r.storage.lastIndex()) voters=\(r.machine.confState.voters) out=\(r.machine.confState.votersOutgoing) learners=\(r.machine.confState.learners)")
        }
        return lines.joined(separator: "\n")
    }
}
