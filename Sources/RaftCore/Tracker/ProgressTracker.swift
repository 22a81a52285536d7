import Base

/// A group's membership as the tracker sees it (etcd's `tracker.Config`).
///
/// Invariants (checked by the `Changer`): learners and voters are disjoint;
/// `learnersNext` are outgoing voters that become learners on leaving the joint config
/// (so they are not in `learners` yet); `autoLeave` only while joint.
struct TrackerConfig: Equatable, CustomStringConvertible {
    var voters = JointConfig()
    var autoLeave = false
    var learners: IDSet = []
    var learnersNext: IDSet = []

    var confState: ConfState {
        ConfState(voters: voters.incoming.voters.ids, learners: learners.ids,
                  votersOutgoing: voters.outgoing.voters.ids, learnersNext: learnersNext.ids,
                  autoLeave: autoLeave)
    }

    var description: String {
        var s = "voters=\(voters)"
        if !learners.isEmpty { s += " learners=\(learners)" }
        if !learnersNext.isEmpty { s += " learners_next=\(learnersNext)" }
        if autoLeave { s += " autoleave" }
        return s
    }
}

/// A leader's (or candidate's) book-keeping about the group: the configuration, every
/// member's `Progress`, and the votes of the current election.
struct ProgressTracker {
    var config = TrackerConfig()
    var progress = ProgressMap()
    /// Votes received in the current election (looked up by ID, never iterated).
    var votes: [ReplicaID: Bool] = [:]
    let maxInflight: Int

    init(maxInflight: Int) {
        self.maxInflight = maxInflight
    }

    var confState: ConfState { config.confState }

    /// A single voter and not joint: it can decide alone.
    var isSingleton: Bool {
        config.voters.incoming.voters.count == 1 && !config.voters.isJoint
    }

    /// The largest index replicated on a quorum (in joint configs: on both quorums).
    func committed() -> UInt64 {
        config.voters.committedIndex { id in progress[id]?.match }
    }

    /// Whether a quorum was recently active (the leader counts itself as active).
    func quorumActive() -> Bool {
        config.voters.voteResult { id in progress[id]?.recentActive } == .won
    }

    mutating func resetVotes() { votes.removeAll(keepingCapacity: true) }

    /// Records `id`'s vote unless it already voted in this election.
    mutating func recordVote(_ id: ReplicaID, granted: Bool) {
        if votes[id] == nil { votes[id] = granted }
    }

    func tallyVotes() -> (granted: Int, rejected: Int, result: VoteResult) {
        var granted = 0
        var rejected = 0
        for id in progress.ids where !(progress[id]?.isLearner ?? true) {
            switch votes[id] {
            case .some(true): granted += 1
            case .some(false): rejected += 1
            case .none: break
            }
        }
        return (granted, rejected, config.voters.voteResult { votes[$0] })
    }
}
