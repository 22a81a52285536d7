public import Base

/// Committed entries are never lost: the set of committed (index, term) pairs only
/// grows. Owns the committed log as observed so far (dense by index; term 0 = not yet
/// observed) and, for each index, the earliest term in which a replica saw it committed
/// (so leaders of later terms must hold it, see `LeaderCompletenessChecker`).
public struct CommittedLogChecker: Sendable {
    /// `terms[i]` is the term of committed index `i` (0: unknown).
    public private(set) var terms: [UInt64] = [0]
    /// `observedIn[i]` is the smallest current term of a replica that saw index `i` committed.
    public private(set) var observedIn: [UInt64] = [0]

    public init() {}

    /// The highest index known committed.
    public var maxIndex: UInt64 { UInt64(terms.count - 1) }

    /// Records that `replica`, in its term `currentTerm`, holds `(index, term)` as committed.
    /// Returns true when this is the first observation of that index.
    @discardableResult
    public mutating func observeCommitted(_ replica: ReplicaID, index: UInt64, term: UInt64, currentTerm: UInt64) throws(SafetyViolation) -> Bool {
        precondition(index > 0 && term > 0, "committed entries have positive index and term")
        let i = Int(index)
        if i >= terms.count {
            terms.append(contentsOf: repeatElement(0, count: i - terms.count + 1))
            observedIn.append(contentsOf: repeatElement(0, count: i - observedIn.count + 1))
        }
        if terms[i] == 0 {
            terms[i] = term
            observedIn[i] = currentTerm
            return true
        }
        if terms[i] != term {
            throw SafetyViolation(.committedEntryLost,
                "index \(index) was committed with term \(terms[i]) but replica \(replica) holds it committed with term \(term)")
        }
        if currentTerm < observedIn[i] { observedIn[i] = currentTerm }
        return false
    }

    /// The committed term at `index`, or nil when not observed.
    public func term(at index: UInt64) -> UInt64? {
        index < UInt64(terms.count) && terms[Int(index)] != 0 ? terms[Int(index)] : nil
    }
}

/// Commit indexes only move forward while a replica runs (a restart may fall back to the
/// durable commit index). Owns each replica's last commit index in its current life.
public struct CommitIndexChecker: Sendable {
    private var lastCommit: [ReplicaID: UInt64] = [:]

    public init() {}

    /// Forgets `replica`'s commit index (it restarted from its disk).
    public mutating func restarted(_ replica: ReplicaID) { lastCommit[replica] = nil }

    public mutating func observeCommitIndex(_ replica: ReplicaID, _ commit: UInt64) throws(SafetyViolation) {
        if let last = lastCommit[replica], commit < last {
            throw SafetyViolation(.commitRegressed, "replica \(replica) commit index went from \(last) back to \(commit)")
        }
        lastCommit[replica] = commit
    }
}
