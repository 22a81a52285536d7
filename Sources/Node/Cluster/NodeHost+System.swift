public import Base
import MVCC

/// The system range (range 1) on this node: the revision oracle, the cluster-wide lease
/// table, and applying system commands.
///
/// STUBS: the signatures are the contract between the system range (branch system) and
/// the node runtime (branch node2) / call codec (branch calls); branch system replaces the
/// bodies (and moves them into Sources/Node/System/ as it sees fit).
extension NodeHost {
    /// The node believed to lead the system range (`.none` when unknown).
    public func systemLeader() -> NodeID { .none }

    /// `count` consecutive revisions from the oracle, all strictly greater than every
    /// revision it handed out before this call started. Runs on the system range leader
    /// (throws `.notLeader(hint)` elsewhere). Served from memory below the persisted
    /// high-water mark, which is raised through Raft in blocks.
    public func oracleRevisions(count: Int) async throws(ProposalError) -> ClosedRange<Int64> {
        throw .proposalDropped("oracle: not implemented yet")
    }

    /// Records a lease (`id == 0`: pick a fresh ID); nil when `id` is already live.
    /// On the system range leader only (`.notLeader(hint)` elsewhere).
    public func leaseGrant(id: Int64, ttl: Int64) async throws(ProposalError) -> LeaseRecord? {
        throw .proposalDropped("leases: not implemented yet")
    }

    /// The lease, or nil when unknown or expired. System range leader only.
    public func leaseLookup(id: Int64) async throws(ProposalError) -> LeaseRecord? {
        throw .proposalDropped("leases: not implemented yet")
    }

    /// Renews a live lease to its granted TTL; nil when unknown or expired. Leader only.
    public func leaseKeepAlive(id: Int64) async throws(ProposalError) -> LeaseRecord? {
        throw .proposalDropped("leases: not implemented yet")
    }

    /// Removes the lease record; false when it did not exist. Leader only.
    public func leaseRemove(id: Int64) async throws(ProposalError) -> Bool {
        throw .proposalDropped("leases: not implemented yet")
    }

    /// Every live lease. Leader only.
    public func leases() async throws(ProposalError) -> [LeaseRecord] {
        throw .proposalDropped("leases: not implemented yet")
    }

    /// Leases whose TTL ran out (not yet removed). Leader only; empty elsewhere.
    public func expiredLeases() async -> [Int64] { [] }

    /// Applies a system command on the system range replica `r` (deterministic).
    func applySystem(_ bytes: [UInt8], index: UInt64, on r: RangeReplica) -> Result<CommandResult, ProposalError> {
        .failure(.proposalDropped("system commands: not implemented yet"))
    }

    /// Deletes every key of `r`'s range attached to lease `id` at `revision` (deterministic).
    func applyRevokeLease(_ id: Int64, revision: Int64, on r: RangeReplica) -> Result<CommandResult, ProposalError> {
        .failure(.proposalDropped("revokeLease: not implemented yet"))
    }
}
