public import Base
public import MVCC
public import Node

/// What the router needs from the cluster: the local node's runtime and, through the
/// peer call channel, every other node. It routes nothing itself: each call names the node
/// to run on (the router picks it from its range cache) and fails with the node's
/// `ProposalError` (notLeader with a hint, rangeNotFound, epochMismatch with the current
/// descriptor, timeout = outcome unknown) so the router can refresh and retry.
///
/// Implemented over `NodeHost` + peer calls by `NodeClusterAccess` (this module) and by an
/// in-memory fake in the router tests. Every method is safe to call concurrently.
public protocol ClusterAccess: Sendable {
    /// This node.
    var localNode: NodeID { get }

    // MARK: routing table

    /// Every user range (not the system range) with a leader hint: the descriptors the
    /// local node knows (its replicas and the system range's routing table), newest epoch
    /// per range. Together they cover the user keyspace `[[], nil)`.
    func routes() async throws -> [RangeRoute]

    /// When this node's failure detector has marked `hinted` (a cached leader of `range`)
    /// down: the leader this node's own replica of `range` follows if it names another
    /// node, else `.none` (unknown: probe another replica). nil while `hinted` is not known
    /// to be down (keep it). Cheap: read on every attempt.
    func leaderInstead(of hinted: NodeID, range: RangeID) -> NodeID?

    // MARK: revisions

    /// A revision from the oracle strictly greater than every revision handed out (to a
    /// write or as a read point) before this call started. Requests are batched per node.
    func freshRevision() async throws(ProposalError) -> Int64

    // MARK: range operations (run on `node`, which must lead `range`)

    /// Proposes `body` to `range`; the leader assigns the write a revision from the oracle
    /// (in log order, above the range's closed revision). `requestID` is unique per client
    /// request and the range de-duplicates it: re-proposing the same ID after a timeout
    /// returns the first outcome instead of applying twice.
    func propose(_ body: RaftCommand.Body, range: RangeID, epoch: RangeDescriptor.Epoch, requestID: UInt64,
                 on node: NodeID) async throws(ProposalError) -> CommandResult

    /// Reads `range` at revision `request.revision` (> 0, chosen by the router, may exceed
    /// the range's latest write): confirms leadership (ReadIndex), closes the range at that
    /// revision (no later write in it gets a revision <= it), waits until every write <= it
    /// has applied, then answers from MVCC. The response's `revision` is the request's.
    func read(_ request: RangeRequest, range: RangeID, epoch: RangeDescriptor.Epoch,
              on node: NodeID) async throws(ProposalError) -> RangeResponse

    /// `read` at a fresh revision that `node` takes after the call reached it
    /// (`NodeHost.readFresh`): the response's `revision` is that read point. For a request
    /// within one range. Errors about the oracle read as `proposalDropped`.
    func readFresh(_ request: RangeRequest, range: RangeID, epoch: RangeDescriptor.Epoch,
                   on node: NodeID) async throws(ProposalError) -> RangeResponse

    /// Serializable read on the local replica of `range` (no consensus round): state as
    /// of the replica's resolved revision (the highest revision it knows closed and
    /// applied), which is returned as the response's `revision`; `request.revision > 0`
    /// reads that revision if it is at most the resolved revision.
    func localRead(_ request: RangeRequest, range: RangeID) async throws(ProposalError) -> RangeResponse

    /// The change feed of `range` at `epoch` (the route the router planned with) from
    /// revision `from` (inclusive) on, served by `node`'s replica (prefer the local one).
    /// Ends with `.compacted` when `from` is compacted; throws
    /// `ProposalError.rangeNotFound` when the replica goes away and `.epochMismatch` when the
    /// replica's descriptor is not at `epoch` — a stale route, or a split/merge while the
    /// feed runs — so it never serves a key span other than the route's (the router
    /// re-subscribes from the last resolved revision). Cancelling the consuming task ends
    /// it. Pull-based: holds at most one batch.
    func feed(range: RangeID, epoch: RangeDescriptor.Epoch, from: Int64, prevKV: Bool,
              on node: NodeID) -> AsyncThrowingStream<RangeFeedItem, any Error>

    /// Asks `node` to close `range` for its feeds now instead of at its closer's next tick
    /// (`NodeHost.demandClose`): a watch spanning ranges holds events it can release only once
    /// `range`'s feed is resolved past them. Best effort and coalesced by the node; a no-op
    /// where the node cannot be asked cheaply (the default, and remote nodes in
    /// `NodeClusterAccess`), which leaves the events to the closer's tick.
    func demandClose(range: RangeID, on node: NodeID)

    // MARK: leases (the system range; calls go to its leader wherever it is)

    /// Records a lease; `id == 0` picks a fresh one. Throws `EtcdError.leaseExists` for a live ID.
    func leaseGrant(id: Int64, ttl: Int64) async throws -> LeaseRecord
    /// The lease, or nil when unknown (never granted, revoking, revoked or fully expired).
    func leaseLookup(id: Int64) async throws -> LeaseRecord?
    /// Renews to the granted TTL; nil when unknown, revoking or expired.
    func leaseKeepAlive(id: Int64) async throws -> LeaseRecord?
    /// The first step of every revoke: marks the lease "revoking" in the system range
    /// (replicated), after which it is gone for every observer (lookup, keep-alive and list
    /// miss it; a grant of its ID is refused as live until `leaseRemove`). Answers the record
    /// with its grant revision (the sweeps name it), nil when unknown. Idempotent: a lease
    /// already revoking answers alike, so a second revoke finishes the first one's work.
    func leaseBeginRevoke(id: Int64) async throws -> LeaseRecord?
    /// Removes the lease record (the router deletes its keys in every range first).
    /// Returns false when it did not exist.
    func leaseRemove(id: Int64) async throws -> Bool
    /// Every live lease (revoking ones left out).
    func leases() async throws -> [LeaseRecord]
    /// Leases to revoke by the router on the system range leader's node: their TTL ran out,
    /// or their revoke began and was left unfinished for a while (the router that began it
    /// died). Empty on other nodes.
    func expiredLeases() async throws -> [Int64]

    // MARK: cluster

    /// Every node of the cluster.
    func nodes() async throws -> [NodeRecord]
}

extension ClusterAccess {
    /// No failure detector: every hint is kept until its attempt fails.
    public func leaderInstead(of hinted: NodeID, range: RangeID) -> NodeID? { nil }

    /// No close on demand: feeds resolve at the node's closer ticks.
    public func demandClose(range: RangeID, on node: NodeID) {}

    /// The router's own way, for access implementations without a leader-side read point:
    /// a fresh revision here, then `read` at it on `node`.
    public func readFresh(_ request: RangeRequest, range: RangeID, epoch: RangeDescriptor.Epoch,
                          on node: NodeID) async throws(ProposalError) -> RangeResponse {
        let atRevision = try await request.atFreshRevision { () async throws(ProposalError) in try await freshRevision() }
        return try await read(atRevision, range: range, epoch: epoch, on: node)
    }
}
