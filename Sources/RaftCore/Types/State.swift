public import Base

/// The state a replica must persist before sending any message that depends on it.
public struct HardState: Sendable, Hashable {
    public var term: UInt64
    public var vote: ReplicaID
    public var commit: UInt64
    public init(term: UInt64 = 0, vote: ReplicaID = 0, commit: UInt64 = 0) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }
    public var isEmpty: Bool { term == 0 && vote == 0 && commit == 0 }
}

/// A replica's role (Raft paper §5.1, plus the pre-vote candidate of the thesis §9.6).
public enum StateRole: Sendable, Hashable {
    case follower, preCandidate, candidate, leader
}

/// Volatile state worth reporting to the application (never persisted).
public struct SoftState: Sendable, Hashable {
    public var leader: ReplicaID
    public var role: StateRole
    public init(leader: ReplicaID, role: StateRole) {
        self.leader = leader
        self.role = role
    }
}

/// The membership of a group. With `votersOutgoing` non-empty the group is in a joint
/// configuration: decisions need a majority of `voters` *and* of `votersOutgoing`.
public struct ConfState: Sendable, Hashable {
    public var voters: [ReplicaID]
    public var learners: [ReplicaID]
    /// The old voters while in a joint configuration; empty otherwise.
    public var votersOutgoing: [ReplicaID]
    /// Voters of the outgoing config that become learners when the joint config is left.
    public var learnersNext: [ReplicaID]
    /// Leave the joint configuration automatically once it is committed.
    public var autoLeave: Bool

    public init(voters: [ReplicaID] = [], learners: [ReplicaID] = [], votersOutgoing: [ReplicaID] = [],
                learnersNext: [ReplicaID] = [], autoLeave: Bool = false) {
        self.voters = voters
        self.learners = learners
        self.votersOutgoing = votersOutgoing
        self.learnersNext = learnersNext
        self.autoLeave = autoLeave
    }
}

/// A linearizable read point: once the replica has applied up to `index`, a read for the
/// request identified by `context` may be served.
public struct ReadState: Sendable, Hashable {
    public var index: UInt64
    public var context: [UInt8]
    public init(index: UInt64, context: [UInt8]) {
        self.index = index
        self.context = context
    }
}
