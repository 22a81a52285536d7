import Base

/// The voters of a group: `incoming` alone normally, or `incoming` and `outgoing`
/// together during joint consensus (Raft thesis §4.3), where every decision needs a
/// majority of both halves.
struct JointConfig: Equatable, CustomStringConvertible {
    var incoming = MajorityConfig()
    var outgoing = MajorityConfig()

    var isJoint: Bool { !outgoing.voters.isEmpty }

    /// Every voter of either half, sorted.
    var ids: IDSet { incoming.voters.union(outgoing.voters) }

    func contains(_ id: ReplicaID) -> Bool {
        incoming.voters.contains(id) || outgoing.voters.contains(id)
    }

    func committedIndex(_ acked: (ReplicaID) -> UInt64?) -> UInt64 {
        min(incoming.committedIndex(acked), outgoing.committedIndex(acked))
    }

    func voteResult(_ votes: (ReplicaID) -> Bool?) -> VoteResult {
        let a = incoming.voteResult(votes)
        let b = outgoing.voteResult(votes)
        if a == b { return a }
        if a == .lost || b == .lost { return .lost }
        return .pending
    }

    var description: String {
        isJoint ? "\(incoming)&&\(outgoing)" : incoming.description
    }
}
