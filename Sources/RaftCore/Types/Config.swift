public import Base

/// How ReadIndex requests are served.
public enum ReadOnlyOption: Sendable, Hashable {
    /// Confirm leadership with a heartbeat round to a quorum (always safe).
    case safe
    /// Trust the leader lease: serve without a round trip. Safe only with `checkQuorum`
    /// on and bounded clock drift (a deposed leader steps down within an election
    /// timeout, before anyone else can be elected). `RawNode.init` rejects it otherwise.
    /// The lease holds while a quorum answered within the last `electionTicks - 2`
    /// ticks and no transfer is in progress; otherwise reads take the safe path.
    case leaseBased
}

/// Configuration of one replica's Raft core. Times are in ticks; the caller decides what
/// a tick is (the node runtime uses ~100 ms).
public struct RaftConfig: Sendable {
    public var id: ReplicaID
    /// A follower that hears no leader for a random number of ticks in
    /// `[electionTicks, 2 * electionTicks)` starts an election.
    public var electionTicks: Int
    /// A leader sends heartbeats every `heartbeatTicks`.
    public var heartbeatTicks: Int
    /// The index already applied by the application (on restart).
    public var applied: UInt64
    /// Upper bound on the entry bytes in one append message (at least one entry is sent).
    public var maxSizePerMsg: UInt64
    /// Upper bound on the bytes of committed entries handed out in one Ready.
    public var maxCommittedSizePerReady: UInt64
    /// Upper bound on the bytes of uncommitted entries a leader accepts (0: no limit).
    public var maxUncommittedEntriesSize: UInt64
    /// How many append messages may be in flight to one follower in replicate state.
    public var maxInflightMsgs: Int
    public var checkQuorum: Bool
    public var preVote: Bool
    public var readOnlyOption: ReadOnlyOption
    /// Drop proposals on followers instead of forwarding them to the leader.
    public var disableProposalForwarding: Bool
    /// Seed of the replica's own generator (randomized election timeouts).
    public var randomSeed: UInt64
    /// A replica that starts with a term (it was a member before: a restart) ignores vote
    /// and pre-vote requests, except a leadership transfer's, for its first `electionTicks`
    /// ticks, as a follower that just heard from its leader does (check-quorum's leader
    /// stickiness, which a restart forgets). Needed by an application lease that counts on
    /// the stickiness of the voters that confirmed it (the node's oracle lease on the system
    /// range): without it a voter restarted right after confirming could elect a new leader
    /// at once. Needs `checkQuorum`; a fresh replica (term 0) is not held.
    public var holdVotesAfterRestart: Bool = false

    public init(id: ReplicaID, electionTicks: Int = 10, heartbeatTicks: Int = 1, applied: UInt64 = 0,
                maxSizePerMsg: UInt64 = 1 << 20, maxCommittedSizePerReady: UInt64 = 64 << 20,
                maxUncommittedEntriesSize: UInt64 = 0, maxInflightMsgs: Int = 256,
                checkQuorum: Bool = true, preVote: Bool = true, readOnlyOption: ReadOnlyOption = .safe,
                disableProposalForwarding: Bool = false, randomSeed: UInt64 = 0) {
        self.id = id
        self.electionTicks = electionTicks
        self.heartbeatTicks = heartbeatTicks
        self.applied = applied
        self.maxSizePerMsg = maxSizePerMsg
        self.maxCommittedSizePerReady = maxCommittedSizePerReady
        self.maxUncommittedEntriesSize = maxUncommittedEntriesSize
        self.maxInflightMsgs = maxInflightMsgs
        self.checkQuorum = checkQuorum
        self.preVote = preVote
        self.readOnlyOption = readOnlyOption
        self.disableProposalForwarding = disableProposalForwarding
        self.randomSeed = randomSeed
    }
}
