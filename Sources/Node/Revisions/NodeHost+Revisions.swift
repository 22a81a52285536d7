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
        // The system range leader serves them; follow its hints a few times (elections).
        var target = systemLeader()
        var lastError = ProposalError.notLeader(leaderHint: .none)
        for attempt in 0..<8 {
            if attempt > 0 { try? await Task.sleep(for: .milliseconds(min(20 << attempt, 500))) }
            do throws(ProposalError) {
                if target == nodeID || target == .none && callTransport == nil {
                    return try await oracleRevisions(count: count)
                }
                if target == .none { target = systemLeader() }
                if target == .none { target = await discoverSystemLeader() }
                if target == .none { continue }
                if target == nodeID { return try await oracleRevisions(count: count) }
                // A leader marked down (stopped, cut off) is not waited for: its revisions,
                // if it handed any out, are a gap, never reused; the range 1 replicas elect
                // another, which this node's own view (`systemLeader`) then names.
                let client = callClient(timeoutMs: config.proposalTimeoutMs), node = target
                guard let answer = try await unlessMarkedDown(node, timeoutMs: config.proposalTimeoutMs, {
                    () async throws(ProposalError) -> ClosedRange<Int64> in
                    try await client.oracleRevisions(count: count, on: node)
                }) else {
                    throw ProposalError.notLeader(leaderHint: .none)
                }
                return answer
            } catch {
                lastError = error
                if case .notLeader(let hint) = error {
                    if hint != .none && view(of: .system) == nil { noteSystemLeader(hint) }
                    target = hint != .none ? hint : systemLeader()
                    if target != .none && peerIsDown(target) { target = .none }
                    continue
                }
                throw error
            }
        }
        throw lastError
    }

    /// Who leads the system range: this node's own belief when it has one, else the first
    /// answer of the nodes it shares ranges with, then of `alsoAsking` (the router passes every
    /// cluster member), through the `systemLeader` node call. A found leader is recorded
    /// (`noteSystemLeader`) on a node without a replica of range 1; `.none` when nobody knows.
    /// The one way both the oracle (`freshRevisions`) and the router's lease calls find it: a
    /// node without a replica of range 1 (the 4th and 5th node of a 5-node cluster) learns it
    /// no other way. Peers this node's failure detector marked down are neither asked nor
    /// believed.
    public func discoverSystemLeader(alsoAsking extra: [NodeID] = []) async -> NodeID {
        let known = systemLeader()
        if known != .none { return known }
        guard callTransport != nil else { return .none }
        var peers: [NodeID] = []
        for id in rangeIDs {
            for r in view(of: id)?.descriptor.replicas ?? [] where r.nodeID != nodeID && !peers.contains(r.nodeID) {
                peers.append(r.nodeID)
            }
        }
        for n in extra where n != nodeID && n != .none && !peers.contains(n) { peers.append(n) }
        let client = callClient(timeoutMs: config.proposalTimeoutMs)
        // Peers marked down are not asked: a stopped process would hold the question for
        // the whole call timeout (5 s) while the others elect a new leader.
        for p in peers where !peerIsDown(p) {
            let answer = try? await unlessMarkedDown(p, timeoutMs: config.proposalTimeoutMs, {
                () async throws(ProposalError) -> NodeID in try await client.systemLeader(on: p)
            })
            if let leader = answer ?? nil, leader != .none, !peerIsDown(leader) {
                if view(of: .system) == nil { noteSystemLeader(leader) }
                return leader
            }
        }
        return .none
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
