import Base

/// Computes a new tracker configuration (and matching progress map) from the current
/// one and a membership change, checking that the change is legal (etcd's
/// `confchange.Changer`). Pure: it returns new values and never touches the raft state.
struct Changer {
    var config: TrackerConfig
    var progress: ProgressMap
    let maxInflight: Int
    /// The leader's last index: new members start probing from here.
    let lastIndex: UInt64

    typealias Result = (config: TrackerConfig, progress: ProgressMap)

    init(tracker: ProgressTracker, lastIndex: UInt64) {
        config = tracker.config
        progress = tracker.progress
        maxInflight = tracker.maxInflight
        self.lastIndex = lastIndex
    }

    /// Enters a joint configuration: the current voters become the outgoing half and the
    /// changes apply to the incoming half.
    func enterJoint(autoLeave: Bool, _ changes: [ConfChangeSingle]) throws(RaftError) -> Result {
        var c = self
        if c.config.voters.isJoint { throw .invalidConfChange("config is already joint") }
        if c.config.voters.incoming.voters.isEmpty {
            throw .invalidConfChange("can't make a zero-voter config joint")
        }
        c.config.voters.outgoing = c.config.voters.incoming
        try c.apply(changes)
        c.config.autoLeave = autoLeave
        try c.checkInvariants()
        return (c.config, c.progress)
    }

    /// Leaves a joint configuration: the outgoing half is dropped, `learnersNext` become
    /// learners, and replicas in neither half lose their progress.
    func leaveJoint() throws(RaftError) -> Result {
        var c = self
        if !c.config.voters.isJoint { throw .invalidConfChange("can't leave a non-joint config") }
        for id in c.config.learnersNext {
            c.config.learners.insert(id)
            if let i = c.progress.index(of: id) { c.progress.values[i].isLearner = true }
        }
        c.config.learnersNext = []
        for id in c.config.voters.outgoing.voters
        where !c.config.voters.incoming.voters.contains(id) && !c.config.learners.contains(id) {
            c.progress.remove(id)
        }
        c.config.voters.outgoing = MajorityConfig()
        c.config.autoLeave = false
        try c.checkInvariants()
        return (c.config, c.progress)
    }

    /// Applies changes that alter at most one voter, without a joint configuration.
    func simple(_ changes: [ConfChangeSingle]) throws(RaftError) -> Result {
        var c = self
        if c.config.voters.isJoint {
            throw .invalidConfChange("can't apply simple config change in joint config")
        }
        try c.apply(changes)
        let before = config.voters.incoming.voters
        let after = c.config.voters.incoming.voters
        var changed = 0
        for id in before where !after.contains(id) { changed += 1 }
        for id in after where !before.contains(id) { changed += 1 }
        if changed > 1 {
            throw .invalidConfChange("more than one voter changed without entering joint config")
        }
        try c.checkInvariants()
        return (c.config, c.progress)
    }

    /// Applies `change` the way `RawNode.applyConfChange` does (auto/joint/leave).
    func apply(change cc: ConfChange) throws(RaftError) -> Result {
        if cc.isLeaveJoint { return try leaveJoint() }
        if let autoLeave = cc.enterJointAutoLeave { return try enterJoint(autoLeave: autoLeave, cc.changes) }
        return try simple(cc.changes)
    }

    /// Builds the configuration described by `confState` from scratch (on start-up and
    /// when a snapshot is restored).
    static func restore(_ cs: ConfState, maxInflight: Int, lastIndex: UInt64) throws(RaftError) -> Result {
        var c = Changer(tracker: ProgressTracker(maxInflight: maxInflight), lastIndex: lastIndex)
        c.config.voters.incoming = MajorityConfig(IDSet(cs.voters))
        c.config.voters.outgoing = MajorityConfig(IDSet(cs.votersOutgoing))
        c.config.learners = IDSet(cs.learners)
        c.config.learnersNext = IDSet(cs.learnersNext)
        c.config.autoLeave = cs.autoLeave && c.config.voters.isJoint
        for id in c.config.voters.ids { c.initProgress(id, isLearner: false) }
        for id in c.config.learners { c.initProgress(id, isLearner: true) }
        try c.checkInvariants()
        return (c.config, c.progress)
    }

    private mutating func apply(_ changes: [ConfChangeSingle]) throws(RaftError) {
        for cc in changes where cc.replicaID != 0 {
            switch cc.type {
            case .addNode: makeVoter(cc.replicaID)
            case .addLearnerNode: makeLearner(cc.replicaID)
            case .removeNode: remove(cc.replicaID)
            }
        }
        if config.voters.incoming.voters.isEmpty { throw .invalidConfChange("removed all voters") }
    }

    private mutating func makeVoter(_ id: ReplicaID) {
        if let i = progress.index(of: id) {
            progress.values[i].isLearner = false
        } else {
            initProgress(id, isLearner: false)
        }
        config.learners.remove(id)
        config.learnersNext.remove(id)
        config.voters.incoming.voters.insert(id)
    }

    /// A voter of the outgoing config cannot become a learner before the joint config
    /// is left (it still votes there): it goes to `learnersNext` instead.
    private mutating func makeLearner(_ id: ReplicaID) {
        if let pr = progress[id], pr.isLearner { return }
        let kept = progress[id]
        remove(id)
        if let kept { progress.insert(id, kept) } else if !progress.contains(id) { initProgress(id, isLearner: true) }
        if config.voters.outgoing.voters.contains(id) {
            config.learnersNext.insert(id)
        } else {
            config.learners.insert(id)
            if let i = progress.index(of: id) { progress.values[i].isLearner = true }
        }
    }

    /// Removes `id` from the incoming voters and the learners; its progress stays while
    /// it is an outgoing voter.
    private mutating func remove(_ id: ReplicaID) {
        guard progress.contains(id) else { return }
        config.voters.incoming.voters.remove(id)
        config.learners.remove(id)
        config.learnersNext.remove(id)
        if !config.voters.outgoing.voters.contains(id) { progress.remove(id) }
    }

    private mutating func initProgress(_ id: ReplicaID, isLearner: Bool) {
        var pr = Progress(match: 0, next: max(lastIndex, 1), maxInflight: maxInflight, isLearner: isLearner)
        // A new member counts as active so that check-quorum does not depose the leader
        // before it had a chance to hear from it.
        pr.recentActive = true
        progress.insert(id, pr)
    }

    private func checkInvariants() throws(RaftError) {
        for id in config.voters.ids where !progress.contains(id) {
            throw .invalidConfChange("no progress for voter \(id)")
        }
        for id in config.learners {
            guard let pr = progress[id] else { throw .invalidConfChange("no progress for learner \(id)") }
            if !pr.isLearner { throw .invalidConfChange("\(id) is in learners but is not marked as learner") }
            if config.voters.contains(id) { throw .invalidConfChange("\(id) is in learners and voters") }
        }
        for id in config.learnersNext {
            guard let pr = progress[id] else { throw .invalidConfChange("no progress for learner(next) \(id)") }
            if pr.isLearner { throw .invalidConfChange("\(id) is in learners_next and marked as learner") }
            if !config.voters.outgoing.voters.contains(id) {
                throw .invalidConfChange("\(id) is in learners_next but not an outgoing voter")
            }
        }
        for id in config.voters.ids {
            if let pr = progress[id], pr.isLearner { throw .invalidConfChange("\(id) is a voter marked as learner") }
        }
        if !config.voters.isJoint {
            if !config.learnersNext.isEmpty { throw .invalidConfChange("learners_next set outside a joint config") }
            if config.autoLeave { throw .invalidConfChange("autoLeave set outside a joint config") }
        }
    }
}

extension ConfChange {
    /// `nil` for a simple change; otherwise whether the joint config it enters is left
    /// automatically (etcd's `ConfChangeV2.EnterJoint`).
    var enterJointAutoLeave: Bool? {
        guard transition != .auto || changes.count > 1 else { return nil }
        switch transition {
        case .auto, .jointImplicit: return true
        case .jointExplicit: return false
        }
    }
}
