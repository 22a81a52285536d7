/// Why a proposal (or another request) was not accepted. Proposals are never silently
/// lost: either they are appended to the leader's log (and may later commit or be
/// overwritten by a new leader, which the application detects by term/index), or the
/// call throws one of these.
public enum RaftError: Error, Sendable, Hashable {
    /// No leader is known (election in progress, or partitioned).
    case noLeader
    /// The leader is handing leadership over; retry after the transfer.
    case transferInProgress
    /// This replica is not the leader and forwarding is disabled.
    case notLeader(leaderHint: UInt64)
    /// The leader's uncommitted log is over `maxUncommittedEntriesSize`.
    case uncommittedLogFull
    /// A configuration change is already pending (not yet applied) or the group is in
    /// a joint configuration that must be left first.
    case confChangePending
    /// The requested change is invalid (e.g. removing every voter, unknown replica).
    case invalidConfChange(String)
    /// The message is for another replica, or from an unknown term/peer it cannot accept.
    case invalidMessage(String)
    /// The configuration is unusable (e.g. lease reads without check-quorum).
    case invalidConfig(String)
    /// The storage could not serve what the core needed.
    case storage(StorageError)
}

/// Errors a `RaftStorage` reports.
public enum StorageError: Error, Sendable, Hashable {
    /// The requested index is below the first available index (compacted away).
    case compacted
    /// The requested index is above the last index.
    case unavailable
    /// A snapshot is being produced; ask again later.
    case snapshotTemporarilyUnavailable
    /// The snapshot given is not newer than the one the storage already holds.
    case snapshotOutOfDate
}
