public import Base
import MVCC
import Synchronization

/// The system range (range 1) on this node: the revision oracle, the cluster-wide lease
/// table, and applying system commands. The public surface only; the implementation lives
/// in Sources/Node/System/ (see docs/architecture.md, "System range").
extension NodeHost {
    /// The node believed to lead the system range (`.none` when unknown): this node's
    /// replica's view, or, without a replica here, the last leader learned from elsewhere
    /// (`noteSystemLeader`).
    public func systemLeader() -> NodeID {
        if let view = view(of: .system) { return view.leaderNode }
        return NodeID(system.learnedLeader.load(ordering: .relaxed))
    }

    /// Records the system range leader as another node reported it (e.g. a `.notLeader`
    /// hint), for nodes without a replica of range 1.
    public func noteSystemLeader(_ node: NodeID) {
        system.learnedLeader.store(node.rawValue, ordering: .relaxed)
    }

    /// `count` consecutive revisions from the oracle, all strictly greater than every
    /// revision it handed out before this call started. Runs on the system range leader
    /// (throws `.notLeader(hint)` elsewhere). Served from memory below the persisted
    /// high-water mark, which is raised through Raft in blocks.
    public func oracleRevisions(count: Int) async throws(ProposalError) -> ClosedRange<Int64> {
        try await takeOracleRevisions(count: count)
    }

    /// Records a lease (`id == 0`: pick a fresh ID); nil when `id` is already live.
    /// On the system range leader only (`.notLeader(hint)` elsewhere). A TTL below etcd's
    /// minimum is raised to it; above etcd's maximum (9,000,000,000 s) is refused.
    public func leaseGrant(id: Int64, ttl: Int64) async throws(ProposalError) -> LeaseRecord? {
        try await grantLease(id: id, ttl: ttl)
    }

    /// The lease, or nil when unknown or expired. System range leader only.
    public func leaseLookup(id: Int64) async throws(ProposalError) -> LeaseRecord? {
        try await lookupLease(id: id)
    }

    /// Renews a live lease to its granted TTL; nil when unknown or expired. Leader only.
    public func leaseKeepAlive(id: Int64) async throws(ProposalError) -> LeaseRecord? {
        try await keepLeaseAlive(id: id)
    }

    /// Removes the lease record; false when it did not exist. Leader only.
    public func leaseRemove(id: Int64) async throws(ProposalError) -> Bool {
        try await removeLease(id: id)
    }

    /// Every live lease (expired ones not yet removed included, with remainingTTL <= 0; revoking
    /// ones left out).
    /// Leader only.
    public func leases() async throws(ProposalError) -> [LeaseRecord] {
        try await allLeases()
    }

    /// Leases to revoke: their TTL ran out (not yet removed), or their revoke began and was
    /// left unfinished for a while (its router died). Leader only; empty elsewhere.
    public func expiredLeases() async -> [Int64] {
        await expiredLeaseIDs()
    }

    /// Begins the revoke of lease `id`: marks it revoking through Raft (gone for every
    /// observer from then on; the ID stays taken until `leaseRemove`). Answers the record with
    /// its grant revision, nil when unknown. Idempotent. Leader only.
    public func leaseBeginRevoke(id: Int64) async throws(ProposalError) -> LeaseRecord? {
        try await markLeaseRevoking(id: id)
    }
}
