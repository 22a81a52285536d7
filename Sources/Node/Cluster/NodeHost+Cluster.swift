public import Base
public import MVCC

/// The node's side of the cluster serving path, as the router's `NodeClusterAccess`
/// calls it (locally, or on behalf of a peer through `NodeCall`).
/// The signatures are the contract with the cluster call codec / router adapter; the
/// machinery lives in `Host/NodeHost+Propose.swift` (revisions, de-duplication),
/// `Host/NodeHost+Read.swift` (closes, reads at a revision) and `Feeds/`.
extension NodeHost {
    /// A revision from the oracle strictly greater than every revision handed out before
    /// this call started (batched per node: one outstanding oracle request per node at a
    /// time; asks the system range leader, local or remote through the node calls).
    public func freshRevision() async throws(ProposalError) -> Int64 {
        try await loopOrBatchedRevisions(count: 1).get().lowerBound
    }

    /// Proposes `body` to `range` on this node (which must lead it). The leader assigns the
    /// write a revision from the oracle in log order, above the range's closed revision.
    /// `requestID` is de-duplicated by the range: a retry of the same ID returns the first
    /// outcome instead of applying twice.
    public func propose(_ body: RaftCommand.Body, to range: RangeID, epoch: RangeDescriptor.Epoch?,
                        requestID: UInt64) async throws(ProposalError) -> CommandResult {
        try await submit(body, to: range, epoch: epoch, requestID: requestID, deduplicate: true)
    }

    /// Reads `range` at `request.revision` (> 0) on this node (its leader): ReadIndex,
    /// closes the range at that revision, waits for every write <= it to apply, answers
    /// from MVCC with `revision` = the request's.
    public func read(at request: RangeRequest, in range: RangeID,
                     epoch: RangeDescriptor.Epoch?) async throws(ProposalError) -> RangeResponse {
        // Revision 0 (no read point chosen): a plain linearizable read of the latest state.
        try await readIndexed(request, at: max(0, request.revision), in: range, epoch: epoch)
    }

    /// A linearizable read of `range` (led by this node) at a read point taken here: a fresh
    /// revision R (`freshRevision`, fetched after the request reached this node, so after it
    /// began: R is above every write acknowledged before it), then `read(at:)` R. What the
    /// router otherwise does in two calls when the leader is another node (fetch R there,
    /// then read at R here); only for a request within one range (several ranges must share
    /// one R). The response's `revision` is R. Refuses before fetching R when this node's
    /// published view says it does not lead `range` at `epoch`; an oracle failure reads as
    /// `proposalDropped` (it says nothing about this range's leader).
    public func readFresh(_ request: RangeRequest, in range: RangeID,
                          epoch: RangeDescriptor.Epoch?) async throws(ProposalError) -> RangeResponse {
        let result = await withCheckedContinuation { (c: CheckedContinuation<Result<RangeResponse, ProposalError>, Never>) in
            readFresh(request, in: range, epoch: epoch) { c.resume(returning: $0) }
        }
        return try result.get()
    }

    /// `readFresh` without a task: the poll loop takes the read point (its own oracle when
    /// this node leads the system range, else one `freshRevision` fetch for the round's
    /// fresh reads), then reads at it as `read(at:)` does; `reply` gets the outcome, on the
    /// poll loop or the fetching task (it must not call back into the host).
    func readFresh(_ request: RangeRequest, in range: RangeID, epoch: RangeDescriptor.Epoch?,
                   reply: @escaping ReadRequest.ReadReply) {
        guard let v = view(of: range) else { return reply(.failure(.rangeNotFound(range))) }
        if let epoch, v.descriptor.epoch != epoch { return reply(.failure(.epochMismatch(current: v.descriptor))) }
        guard v.isLeader else { return reply(.failure(.notLeader(leaderHint: v.leaderNode))) }
        let req = ReadRequest(requestID: nextRequestID(), rangeID: range, epoch: epoch, revision: 0,
                              deadlineNs: Self.nowNs() + UInt64(config.proposalTimeoutMs) * 1_000_000,
                              purpose: .read(request, reply), takesFreshPoint: true)
        if !enqueueRead(req) { req.fail(.proposalDropped("node stopped")) }
    }

    /// Serializable read on this node's replica at its resolved revision (or at
    /// `request.revision` when that is not above it; above it: `futureRevision`).
    /// A replica without a resolved revision yet (no feed consumer so far: this call
    /// registers one, so the closer starts resolving it) answers from its latest applied
    /// state with the range's own latest revision, or at `request.revision` when that is
    /// not above it.
    public func localRead(_ request: RangeRequest, in range: RangeID) throws(ProposalError) -> RangeResponse {
        guard let view = view(of: range) else { throw .rangeNotFound(range) }
        let store = view.store
        var resolvedNow = resolved.touch(range, now: Self.nowNs())
        if resolvedNow == 0 { resolvedNow = store.currentRevision }
        let revision = request.revision > 0 ? request.revision : resolvedNow
        guard revision <= resolvedNow else { throw .rejected(.futureRevision) }
        var atRevision = request
        atRevision.revision = min(revision, store.currentRevision)
        do {
            var response = try store.range(atRevision)
            response.revision = revision
            return response
        } catch let e as MVCCError {
            throw .rejected(e)
        } catch {
            throw .proposalDropped("local read failed: \(error)")
        }
    }

    /// The highest revision this node's replica of `range` knows closed and applied (nil
    /// when the range has no feed consumer here, so nothing tracks it).
    public func resolvedRevision(of range: RangeID) -> Int64? { resolved.resolved(of: range) }

    /// The change feed of this node's replica of `range` from revision `from` on: the next
    /// batch of events (at most about `maxEvents`) and the resolved revision, waiting up to
    /// `waitMs` for something new. Throws `.rangeNotFound`, and `.epochMismatch` when
    /// `epoch` (the caller's route) is given and the replica's descriptor has another one,
    /// checked before and after the scan: a feed opened on a stale route (a split or merge
    /// it has not seen) fails instead of serving a different key span.
    public func nextFeedBatch(range: RangeID, epoch: RangeDescriptor.Epoch? = nil, from: Int64, prevKV: Bool,
                              maxEvents: Int, waitMs: Int) async throws(ProposalError) -> RangeFeedItem {
        try await feedBatch(range: range, epoch: epoch, from: from, prevKV: prevKV, maxEvents: maxEvents, waitMs: waitMs)
    }

    /// Every user range this node knows with the leader it believes in (its replicas'
    /// views; the system range's routing table is added by the system range's code).
    public func routingTable() -> [RangeRoute] {
        views.withLock { v in
            v.values.filter { $0.descriptor.rangeID != .system }.sorted { $0.descriptor.rangeID < $1.descriptor.rangeID }
                .map { RangeRoute(descriptor: $0.descriptor, leaderHint: $0.leaderNode) }
        }
    }

    /// Answers a node-core call (tags 0x01-0x0F, e.g. the oracle's revision blocks).
    /// Tag 0x01: the oracle (`System/OracleCall.swift`); tag 0x08: close a range for a
    /// follower's feed (`Feeds/CloseCall.swift`); other tags answer empty.
    public func handleCoreCall(from node: NodeID, _ request: [UInt8]) async -> [UInt8] {
        if request.first == OracleCall.tag { return await handleOracleCall(request) }
        guard request.first == CloseCall.tag else { return [] }
        guard let (range, revision) = CloseCall.decodeRequest(request) else {
            return CloseCall.encodeAnswer(.failure(.proposalDropped("malformed close request")))
        }
        do {
            return CloseCall.encodeAnswer(.success(try await closeForFollower(range: range, revision: revision)))
        } catch {
            return CloseCall.encodeAnswer(.failure(error))
        }
    }
}
