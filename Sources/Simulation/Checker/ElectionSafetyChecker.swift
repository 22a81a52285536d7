public import Base

/// Election Safety: at most one leader can be elected in a given term. Owns the map from
/// term to the replica seen leading it.
public struct ElectionSafetyChecker: Sendable {
    private var leaderOfTerm: [UInt64: ReplicaID] = [:]

    public init() {}

    /// Records that `replica` is leader in `term`.
    public mutating func observeLeader(_ replica: ReplicaID, term: UInt64) throws(SafetyViolation) {
        if let existing = leaderOfTerm[term] {
            if existing != replica {
                throw SafetyViolation(.electionSafety, "replicas \(existing) and \(replica) both leader in term \(term)")
            }
            return
        }
        leaderOfTerm[term] = replica
    }

    /// The replica seen leading `term`, if any.
    public func leader(ofTerm term: UInt64) -> ReplicaID? { leaderOfTerm[term] }
}
