public import Base
public import RaftCore

/// The fault phase's random events: client proposals, crashes (clean or mid-write),
/// restarts, partitions and healing, membership changes and leader transfers.
extension Simulator {
    mutating func injectFaults() throws(SafetyViolation) {
        if rng.chance(options.proposeRate) { try proposeRandom() }
        if rng.chance(options.readRate) { try readRandom() }
        if rng.chance(options.crashRate) { crashRandom() }
        if rng.chance(options.restartRate) { try restartRandom() }
        if rng.chance(options.partitionRate) { partitionRandom() }
        if !network.partition.isHealed && rng.chance(options.healRate) {
            network.partition.heal()
            trace.record(.heal, step: clock.now)
        }
        if rng.chance(options.confChangeRate) { try changeMembershipRandom() }
        if rng.chance(options.transferRate) { try transferRandom() }
    }

    var activeIDs: [ReplicaID] { replicas.filter { !$0.retired }.map(\.id) }
    var runningIndices: [Int] { replicas.indices.filter { replicas[$0].isRunning } }

    /// Proposes a fresh unique payload at replica `i`.
    @discardableResult
    mutating func propose(at i: Int) throws(SafetyViolation) -> UInt64 {
        let proposal = nextProposalID
        nextProposalID += 1
        stats.proposals += 1
        let data = Workload.payload(id: proposal, fillerBytes: rng.int(in: 0...24))
        var failure: RaftError?
        do { try replicas[i].node!.propose(data) } catch {
            failure = error
            stats.proposalsRejected += 1
        }
        trace.record(.propose(replicas[i].id, proposal: proposal, error: failure), step: clock.now)
        try drain(i)
        return proposal
    }

    mutating func proposeRandom() throws(SafetyViolation) {
        let running = runningIndices
        guard !running.isEmpty else { return }
        if let l = leaderIndices.first, rng.chance(0.7) {
            try propose(at: l)
        } else {
            try propose(at: rng.pick(running))
        }
    }

    /// A linearizable (ReadIndex) read at a random running replica.
    mutating func readRandom() throws(SafetyViolation) {
        let running = runningIndices
        guard !running.isEmpty else { return }
        let i = rng.pick(running)
        let read = nextReadID
        nextReadID += 1
        stats.readsIssued += 1
        reads.issue(read, committedIndex: committed.maxIndex)
        trace.record(.note("read #\(read) at r\(replicas[i].id), committed \(committed.maxIndex)"), step: clock.now)
        replicas[i].node!.readIndex(context: Workload.payload(id: read, fillerBytes: 0))
        try drain(i)
    }

    mutating func crashRandom() {
        let running = runningIndices
        guard !running.isEmpty else { return }
        let i = rng.pick(running)
        if rng.chance(options.tornWriteFraction) {
            replicas[i].tornWritePending = true
            trace.record(.note("r\(replicas[i].id) will crash in the middle of its next write"), step: clock.now)
        } else {
            crash(i)
        }
    }

    mutating func restartRandom() throws(SafetyViolation) {
        let down = replicas.indices.filter { !replicas[$0].isRunning && !replicas[$0].retired }
        guard !down.isEmpty else { return }
        try start(rng.pick(down))
    }

    mutating func partitionRandom() {
        let ids = activeIDs
        guard ids.count >= 2 else { return }
        stats.partitions += 1
        switch rng.int(in: 0...3) {
        case 0:
            let victim = rng.pick(ids)
            network.partition.isolate(victim, from: ids)
            trace.record(.partition("isolate r\(victim)"), step: clock.now)
        case 1:
            var shuffled = ids
            shuffled.shuffle(using: &rng)
            let cut = rng.int(in: 1...(ids.count - 1))
            let a = Array(shuffled[..<cut]).sorted(), b = Array(shuffled[cut...]).sorted()
            network.partition.split(a, b)
            trace.record(.partition("split \(a) | \(b)"), step: clock.now)
        case 2:
            let from = rng.pick(ids)
            let to = rng.pick(ids.filter { $0 != from })
            network.partition.blockOneWay(from: from, to: to)
            trace.record(.partition("one-way r\(from) -/-> r\(to)"), step: clock.now)
        default:
            // A replica that can send but not receive (or the reverse) from everyone.
            let victim = rng.pick(ids)
            let inbound = rng.chance(0.5)
            for other in ids where other != victim {
                if inbound { network.partition.blockOneWay(from: other, to: victim) }
                else { network.partition.blockOneWay(from: victim, to: other) }
            }
            trace.record(.partition(inbound ? "r\(victim) deaf" : "r\(victim) mute"), step: clock.now)
        }
    }

    mutating func transferRandom() throws(SafetyViolation) {
        guard let l = leaderIndices.first else { return }
        let voters = replicas[l].machine.confState.voters.filter { $0 != replicas[l].id }.sorted()
        guard !voters.isEmpty else { return }
        let target = rng.pick(voters)
        stats.transfers += 1
        trace.record(.transferLeader(from: replicas[l].id, to: target), step: clock.now)
        replicas[l].node!.transferLeader(to: target)
        try drain(l)
    }

    /// Like etcd's server, a leader that the configuration is removing (an outgoing-only
    /// voter of a joint configuration, or a learner) hands leadership to an incoming
    /// voter instead of carrying on until it applies its own removal and steps down,
    /// which can leave nobody electable (etcd-io/etcd#12359, see raft-bugs.md).
    mutating func moveLeadershipIntoConfig() throws(SafetyViolation) {
        for l in leaderIndices {
            let cs = replicas[l].machine.confState
            let id = replicas[l].id
            guard !cs.voters.contains(id), !cs.voters.isEmpty,
                  replicas[l].node!.status.leadTransferee == 0 else { continue }
            let target = rng.pick(cs.voters.sorted())
            stats.transfers += 1
            trace.record(.transferLeader(from: id, to: target), step: clock.now)
            replicas[l].node!.transferLeader(to: target)
            try drain(l)
        }
    }

    /// An ID for a new replica; `startJoiners` creates it once its addition is proposed.
    mutating func addReplica() -> ReplicaID {
        let id = nextReplicaID
        nextReplicaID += 1
        return id
    }

    /// Starts, with an empty disk, every replica `change` adds that does not exist yet
    /// (it waits for the leader to send it a snapshot).
    mutating func startJoiners(_ change: ConfChange) throws(SafetyViolation) {
        for c in change.changes where c.type != .removeNode && indexOf[c.replicaID] == nil {
            indexOf[c.replicaID] = replicas.count
            replicas.append(SimReplica(joining: c.replicaID))
            try start(replicas.count - 1)
        }
    }

    /// Proposes a valid membership change at the leader, chosen from its applied config.
    mutating func changeMembershipRandom() throws(SafetyViolation) {
        guard let l = leaderIndices.first else { return }
        let cs = replicas[l].machine.confState
        var change: ConfChange
        if !cs.votersOutgoing.isEmpty {
            // Leaving is left to a leader that stays a voter (see moveLeadershipIntoConfig).
            guard !cs.autoLeave, cs.voters.contains(replicas[l].id) else { return }
            change = ConfChange(changes: [])
        } else {
            let voters = cs.voters.sorted(), learners = cs.learners.sorted()
            var options: [Int] = []
            if voters.count < self.options.maxVoters { options += [0, 6] }
            if learners.count < 2 { options.append(1) }
            if !learners.isEmpty { options += [2, 4] }
            if voters.count > 1 { options += [3, 5] }
            if voters.count > 1 && voters.count < self.options.maxVoters { options.append(7) }
            guard !options.isEmpty else { return }
            switch rng.pick(options) {
            case 0: change = ConfChange(changes: [ConfChangeSingle(.addNode, addReplica())])
            case 1: change = ConfChange(changes: [ConfChangeSingle(.addLearnerNode, addReplica())])
            case 2: change = ConfChange(changes: [ConfChangeSingle(.addNode, rng.pick(learners))])
            case 3: change = ConfChange(changes: [ConfChangeSingle(.removeNode, rng.pick(voters))])
            case 4: change = ConfChange(changes: [ConfChangeSingle(.removeNode, rng.pick(learners))])
            case 5: change = ConfChange(changes: [ConfChangeSingle(.addLearnerNode, rng.pick(voters))])
            case 6:
                // One voter added through a joint configuration.
                change = ConfChange(transition: rng.pick([.jointImplicit, .jointExplicit]),
                                    changes: [ConfChangeSingle(.addNode, addReplica())])
            default:
                // Replace a voter: joint consensus with two changes.
                let out = rng.pick(voters)
                change = ConfChange(transition: rng.pick([.auto, .jointImplicit, .jointExplicit]),
                                    changes: [ConfChangeSingle(.addNode, addReplica()), ConfChangeSingle(.removeNode, out)])
            }
        }
        // Like etcd's server, never remove or demote the leader itself: hand leadership
        // to another voter first. A leader that steps down on applying its own removal
        // can leave the group unable to elect anyone (etcd-io/etcd#12359).
        let leaderID = replicas[l].id
        if change.changes.contains(where: { $0.replicaID == leaderID && $0.type != .addNode }) {
            let others = cs.voters.filter { $0 != leaderID }.sorted()
            if !others.isEmpty {
                let target = rng.pick(others)
                stats.transfers += 1
                trace.record(.transferLeader(from: leaderID, to: target), step: clock.now)
                replicas[l].node!.transferLeader(to: target)
                try drain(l)
            }
            return
        }
        var failure: RaftError?
        do { try replicas[l].node!.proposeConfChange(change) } catch { failure = error }
        trace.record(.proposeConfChange(replicas[l].id, change, error: failure), step: clock.now)
        try drain(l)
        if failure == nil { try startJoiners(change) }
    }
}
