public import Base
public import MVCC

/// Why a proposal did not produce a result. `timeout` and `proposalDropped` after the
/// entry may have been appended mean the outcome is unknown: the write may still apply.
public enum ProposalError: Error, Sendable, Equatable, CustomStringConvertible {
    /// This node's replica is not the leader; `leaderHint` is the node believed to lead
    /// (`.none` when no leader is known).
    case notLeader(leaderHint: NodeID)
    /// This node has no replica of the range.
    case rangeNotFound(RangeID)
    /// The request routed on an older (or newer) descriptor; `current` is this replica's.
    case epochMismatch(current: RangeDescriptor)
    /// No result within the deadline (the outcome is unknown).
    case timeout
    /// Raft refused the proposal (e.g. leadership transfer, uncommitted log full) or the
    /// node stopped before it applied.
    case proposalDropped(String)
    /// The command applied and MVCC answered with an error (etcd's error for the request).
    case rejected(MVCCError)

    public var description: String {
        switch self {
        case .notLeader(let hint): "not leader (leader hint: \(hint))"
        case .rangeNotFound(let id): "range \(id) not found on this node"
        case .epochMismatch(let d): "epoch mismatch (current: \(d))"
        case .timeout: "proposal timed out (outcome unknown)"
        case .proposalDropped(let why): "proposal dropped: \(why)"
        case .rejected(let e): e.description
        }
    }
}
