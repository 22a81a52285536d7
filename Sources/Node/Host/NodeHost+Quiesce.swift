import Base
import RaftCore

/// Quiescence of idle ranges and node-level liveness (the coalesced per-node heartbeat).
///
/// A leader whose followers all match its last index, with everything committed and
/// applied and no proposal pending, sends a final heartbeat marked `quiesce` and stops
/// ticking; a follower that agrees (same term and leader, caught up to that commit) stops
/// ticking too. Any proposal or Raft message (acknowledgements excepted) wakes the range.
/// Since quiesced followers do not count election timeouts, a dead leader is detected at
/// node level instead: a peer node not heard from (not even its empty heartbeat batch) for
/// an election timeout is marked down, and every range it leads is woken so it elects.
extension NodeHost {
    var electionTimeoutNs: UInt64 { UInt64(config.electionTicks) * tickNs }

    func quiesceIdleLeaders(_ s: inout HostState) {
        var out: [NodeID: [RangeMessage]] = [:]
        for r in s.replicas.values where r.isLeader && !r.quiesced && r.syncingBatch == 0 {
            let busy = s.pendingAt[r.rangeID] != nil || s.readsPerRange[r.rangeID] != nil
                || !r.leaderRevisions.waiting.isEmpty || !r.heldForDedup.isEmpty
            let idle = r.canQuiesce(hasPendingProposals: busy) { node in
                s.peers[node]?.alive ?? false
            }
            guard idle else {
                r.idleTicks = 0
                continue
            }
            r.idleTicks += 1
            guard r.idleTicks >= config.quiesceAfterTicks else { continue }
            let st = r.raw.status
            r.quiesced = true
            for peer in r.descriptor.replicas where peer.replicaID != r.replicaID {
                let m = Message(type: .heartbeat, to: peer.replicaID, from: r.replicaID, term: st.hardState.term,
                                commit: st.hardState.commit)
                out[peer.nodeID, default: []].append(RangeMessage(rangeID: r.rangeID, message: m, quiesce: true))
            }
        }
        if !out.isEmpty { transport.send(out) }
    }

    /// A quiesce heartbeat from the leader: stop ticking if we agree on term, leader and
    /// log (everything up to the leader's commit, nothing beyond).
    func followerQuiesce(_ r: RangeReplica, _ m: Message) {
        let st = r.raw.status
        guard !r.isLeader, r.syncingBatch == 0, st.hardState.term == m.term, st.softState.leader == m.from,
              st.hardState.commit >= m.commit, st.lastIndex == m.commit
        else { return }
        r.quiesced = true
        r.idleTicks = 0
    }

    func heard(from node: NodeID, at: UInt64, _ s: inout HostState) {
        guard var p = s.peers[node] else {
            s.peers[node] = PeerLiveness(lastHeardNs: at, alive: true)
            return
        }
        p.lastHeardNs = max(p.lastHeardNs, at)
        p.alive = true
        s.peers[node] = p
    }

    /// Marks peers not heard from for an election timeout as down and wakes the ranges
    /// they lead. Those replicas also forget their leader (`RawNode.forgetLeader`): the
    /// leader's node has been silent for a whole election timeout already, so they grant
    /// pre-votes at once and campaign after the random part of their election timeout
    /// only — a leader that is stopped or cut off (its connections still open) is
    /// replaced about one election timeout sooner. The oracle lease's argument (§11) holds:
    /// a voter forgets only more than an election timeout after it last heard from the
    /// leader's node, so after any confirmation round it acknowledged.
    func checkLiveness(_ s: inout HostState, now: UInt64) {
        for (node, p) in s.peers where p.alive && now > p.lastHeardNs && now - p.lastHeardNs > electionTimeoutNs {
            s.peers[node]?.alive = false
            for r in s.replicas.values where r.leaderNode == node {
                r.wake()
                r.raw.forgetLeader()
            }
        }
    }

    /// The transport could not reach `node`: leaders probe its replicas again.
    func reportUnreachable(_ node: NodeID, _ s: inout HostState) {
        for r in s.replicas.values where r.isLeader {
            for peer in r.descriptor.replicas where peer.nodeID == node {
                r.raw.reportUnreachable(peer.replicaID)
                r.touched = true
            }
        }
    }
}
