public import Base
public import RaftCore

/// One simulated replica: its durable disk (`SimStorage` plus the durable copy of the
/// application state) and its volatile part (the `RawNode`, the in-memory state machine,
/// what it last reported). A crash drops the volatile part and any write that never
/// reached the disk; a restart rebuilds the `RawNode` from the disk alone. It performs
/// no Ready handling itself: the `Simulator` drives it and feeds the checkers.
public struct SimReplica {
    public let id: ReplicaID
    public let storage: SimStorage
    /// The running core; nil while crashed or retired.
    public var node: RawNode<SimStorage>?
    /// The application state in memory.
    public var machine: DigestStateMachine
    /// The application state on disk (what a restart starts from).
    public var durableMachine: DigestStateMachine
    /// Lives so far (the first start is 1).
    public private(set) var incarnation = 0
    /// Removed from the group and stopped for good.
    public var retired = false
    /// A crash is scheduled for the middle of the next Ready's persistence.
    public var tornWritePending = false
    /// Restart as soon as the crash in the current Ready handling completes (self-test).
    public var restartAfterCrash = false

    // What the replica last reported (volatile).
    public var role: StateRole = .follower
    public var leader: ReplicaID = 0
    public var term: UInt64 = 0
    public var commit: UInt64 = 0

    /// A replica of the initial membership, bootstrapped with `snapshot`.
    public init(id: ReplicaID, bootstrap snapshot: Snapshot) {
        self.id = id
        storage = SimStorage(bootstrap: snapshot)
        machine = DigestStateMachine(snapshot: snapshot)!
        durableMachine = machine
    }

    /// A replica joining later with an empty disk.
    public init(joining id: ReplicaID) {
        self.id = id
        storage = SimStorage()
        machine = DigestStateMachine(bootstrapIndex: 0, confState: ConfState())
        durableMachine = machine
    }

    public var isRunning: Bool { node != nil }

    /// Builds a fresh `RawNode` from the disk. The application state restarts from its
    /// durable copy, or from the durable snapshot when that is newer.
    public mutating func start(config template: RaftConfig, seed: UInt64) throws(RaftError) {
        precondition(node == nil && !retired)
        let snap = storage.latestSnapshot
        if snap.metadata.index > durableMachine.appliedIndex, let restored = DigestStateMachine(snapshot: snap) {
            durableMachine = restored
        }
        machine = durableMachine
        storage.confState = machine.confState
        storage.appliedMachine = machine.appliedIndex > 0 ? machine : nil
        var config = template
        config.id = id
        config.applied = machine.appliedIndex
        config.randomSeed = seed
        node = try RawNode(config: config, storage: storage)
        incarnation += 1
        role = .follower
        leader = 0
        term = storage.hardState.term
        commit = storage.hardState.commit
    }

    /// Drops everything volatile; unsynced writes are lost.
    public mutating func crash() {
        node = nil
        storage.loseUnsyncedWrites()
        machine = durableMachine
        storage.appliedMachine = nil
        role = .follower
        leader = 0
        tornWritePending = false
    }

    /// Makes the in-memory application state durable (syncing the log first, so the
    /// durable commit index is never behind the durable applied index).
    public mutating func persistAppliedState() {
        storage.sync()
        durableMachine = machine
        storage.confState = machine.confState
    }

    /// The members of a configuration: voters, outgoing voters, learners, next learners.
    public static func members(_ cs: ConfState) -> Set<ReplicaID> {
        Set(cs.voters).union(cs.votersOutgoing).union(cs.learners).union(cs.learnersNext)
    }
}
