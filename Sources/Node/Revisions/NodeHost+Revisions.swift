public import Base

/// Where this node's revisions come from, and the closed-revision calls between a range's
/// leader and the nodes that serve its feeds from followers.
extension NodeHost {
    /// `count` fresh revisions from the cluster's oracle, unbatched: the configured
    /// `revisionSource`, else the oracle itself (`oracleRevisions`; the cluster wiring
    /// re-points this to the system range's leader when it is elsewhere). Every request
    /// of the node goes through `batchedRevisions`, which calls this with one request
    /// outstanding at a time.
    public func freshRevisions(count: Int) async throws(ProposalError) -> ClosedRange<Int64> {
        if let source = config.revisionSource { return try await source.revisions(count: count) }
        // A node without a system range replica (a cluster bootstrapped before the system
        // range existed) has no oracle to ask yet: the clock stand-in keeps it writable.
        if view(of: .system) == nil { return try await clockRevisions.revisions(count: count) }
        return try await oracleRevisions(count: count)
    }

    /// On the leader of `range`: closes it at `revision` (ReadIndex, as a read at that
    /// revision) and returns the log index a follower must apply to have every write of the
    /// range with a revision <= `revision` (then `noteResolved` on the follower).
    public func closeForFollower(range: RangeID, revision: Int64) async throws(ProposalError) -> UInt64 {
        try await closeRange(range, at: revision)
    }

    /// On a follower: `range` was closed at `revision` by its leader, who had everything
    /// up to log index `atIndex`; the replica's resolved revision reaches `revision` once it
    /// applied that index. Ignored unless the range has feed consumers here.
    public func noteResolved(range: RangeID, revision: Int64, atIndex: UInt64) {
        resolved.note(range, revision: revision, atIndex: atIndex)
    }
}
