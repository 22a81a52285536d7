public import Base
public import MVCC

/// The node's side of the cluster serving path, as the router's `NodeClusterAccess`
/// calls it (locally, or on behalf of a peer through `NodeCall`).
///
/// STUBS: the signatures are the contract between the node runtime (branch node2) and the
/// cluster call codec / router adapter (branch calls); node2 replaces the bodies.
extension NodeHost {
    /// A revision from the oracle strictly greater than every revision handed out before
    /// this call started (batched per node: one outstanding oracle request per node at a
    /// time; asks the system range leader, local or remote through the node calls).
    public func freshRevision() async throws(ProposalError) -> Int64 {
        throw .proposalDropped("freshRevision: not implemented yet")
    }

    /// Proposes `body` to `range` on this node (which must lead it). The leader assigns the
    /// write a revision from the oracle in log order, above the range's closed revision.
    /// `requestID` is de-duplicated by the range: a retry of the same ID returns the first
    /// outcome instead of applying twice.
    public func propose(_ body: RaftCommand.Body, to range: RangeID, epoch: RangeDescriptor.Epoch?,
                        requestID: UInt64) async throws(ProposalError) -> CommandResult {
        throw .proposalDropped("propose(requestID:): not implemented yet")
    }

    /// Reads `range` at `request.revision` (> 0) on this node (its leader): ReadIndex,
    /// closes the range at that revision, waits for every write <= it to apply, answers
    /// from MVCC with `revision` = the request's.
    public func read(at request: RangeRequest, in range: RangeID,
                     epoch: RangeDescriptor.Epoch?) async throws(ProposalError) -> RangeResponse {
        throw .proposalDropped("read(at:): not implemented yet")
    }

    /// Serializable read on this node's replica at its resolved revision (or at
    /// `request.revision` when that is not above it).
    public func localRead(_ request: RangeRequest, in range: RangeID) throws(ProposalError) -> RangeResponse {
        throw .proposalDropped("localRead: not implemented yet")
    }

    /// The highest revision this node's replica of `range` knows closed and applied.
    public func resolvedRevision(of range: RangeID) -> Int64? { nil }

    /// The change feed of this node's replica of `range` from revision `from` on: the next
    /// batch of events (at most about `maxEvents`) and the resolved revision, waiting up to
    /// `waitMs` for something new. Throws `.rangeNotFound` / `.epochMismatch`.
    public func nextFeedBatch(range: RangeID, from: Int64, prevKV: Bool, maxEvents: Int,
                              waitMs: Int) async throws(ProposalError) -> RangeFeedItem {
        throw .proposalDropped("nextFeedBatch: not implemented yet")
    }

    /// Every user range this node knows with the leader it believes in (its replicas'
    /// views plus the system range's routing table).
    public func routingTable() -> [RangeRoute] { [] }

    /// Answers a node-core call (tags 0x01-0x0F, e.g. the oracle's revision blocks).
    public func handleCoreCall(from node: NodeID, _ request: [UInt8]) async -> [UInt8] { [] }
}
