public import Base

/// Message kinds, as etcd raft names them. `hup`, `beat`, `checkQuorum`, `unreachable`
/// and `snapshotStatus` are local (never sent over the network).
public enum MessageType: UInt8, Sendable, Hashable {
    case hup = 0
    case beat = 1
    case propose = 2
    case append = 3
    case appendResponse = 4
    case requestVote = 5
    case requestVoteResponse = 6
    case snapshot = 7
    case heartbeat = 8
    case heartbeatResponse = 9
    case unreachable = 10
    case snapshotStatus = 11
    case checkQuorum = 12
    case transferLeader = 13
    case timeoutNow = 14
    case readIndex = 15
    case readIndexResponse = 16
    case requestPreVote = 17
    case requestPreVoteResponse = 18
}

/// A Raft message between two replicas of one group. Fields not used by a type are zero.
public struct Message: Sendable, Hashable {
    public var type: MessageType
    public var to: ReplicaID
    public var from: ReplicaID
    public var term: UInt64
    /// For append: the term of the entry at `index` (prevLogTerm). For votes: the
    /// candidate's last log term.
    public var logTerm: UInt64
    /// For append: prevLogIndex. For votes: the candidate's last index. For responses:
    /// the index acknowledged or rejected.
    public var index: UInt64
    public var entries: [Entry]
    public var commit: UInt64
    public var snapshot: Snapshot?
    public var reject: Bool
    /// On a rejected append: the follower's hint of where the leader should probe next.
    public var rejectHint: UInt64
    /// Opaque request context (ReadIndex, campaign type for transfer).
    public var context: [UInt8]

    public init(type: MessageType, to: ReplicaID = 0, from: ReplicaID = 0, term: UInt64 = 0,
                logTerm: UInt64 = 0, index: UInt64 = 0, entries: [Entry] = [], commit: UInt64 = 0,
                snapshot: Snapshot? = nil, reject: Bool = false, rejectHint: UInt64 = 0,
                context: [UInt8] = []) {
        self.type = type
        self.to = to
        self.from = from
        self.term = term
        self.logTerm = logTerm
        self.index = index
        self.entries = entries
        self.commit = commit
        self.snapshot = snapshot
        self.reject = reject
        self.rejectHint = rejectHint
        self.context = context
    }
}
