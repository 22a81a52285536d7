public import Base

/// State Machine Safety: if a replica has applied an entry at an index, no other replica
/// ever applies a different entry at that index. Replicas report the digest of their
/// state machine after each applied index (the digest folds in every entry applied so
/// far, so equal digests mean equal applied prefixes). Owns the first digest seen per index.
public struct StateMachineSafetyChecker: Sendable {
    private var digests: [UInt64?] = [nil]
    private var firstApplier: [ReplicaID] = [0]

    public init() {}

    /// Records that `replica`'s state machine has digest `digest` after applying `index`
    /// (or after installing a snapshot at `index`).
    public mutating func observeApplied(_ replica: ReplicaID, index: UInt64, digest: UInt64) throws(SafetyViolation) {
        let i = Int(index)
        if i >= digests.count {
            digests.append(contentsOf: repeatElement(nil, count: i - digests.count + 1))
            firstApplier.append(contentsOf: repeatElement(0, count: i - firstApplier.count + 1))
        }
        if let known = digests[i] {
            if known != digest {
                throw SafetyViolation(.stateMachineSafety,
                    "replica \(replica) state at index \(index) differs from replica \(firstApplier[i])'s")
            }
        } else {
            digests[i] = digest
            firstApplier[i] = replica
        }
    }
}
