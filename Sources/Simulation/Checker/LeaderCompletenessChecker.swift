public import Base

/// Leader Completeness: if an entry is committed in a given term, it is present in the
/// logs of the leaders of all higher terms. An entry observed committed by a replica in
/// term `c` was committed in a term <= `c`, so every leader of a term > `c` must hold it.
/// Stateless: it checks a leader's log against the `CommittedLogChecker`'s record.
public struct LeaderCompletenessChecker: Sendable {
    public init() {}

    /// Checks every known committed entry against the log of `leader` (leading `term`).
    public func checkLeader(_ leader: ReplicaID, term: UInt64, log: some LogView,
                            committed: CommittedLogChecker) throws(SafetyViolation) {
        var index = log.offsetIndex + 1
        let maxIndex = committed.maxIndex
        while index <= maxIndex {
            try checkEntry(leader, term: term, log: log, index: index, committed: committed)
            index += 1
        }
    }

    /// Checks one committed index against the log of `leader` (leading `term`).
    public func checkEntry(_ leader: ReplicaID, term: UInt64, log: some LogView, index: UInt64,
                           committed: CommittedLogChecker) throws(SafetyViolation) {
        let i = Int(index)
        let committedTerm = committed.terms[i]
        guard committedTerm != 0, committed.observedIn[i] < term, index > log.offsetIndex else { return }
        let held = log.termIfPresent(index)
        if held != committedTerm {
            let what = held.map { "term \($0)" } ?? "nothing"
            throw SafetyViolation(.leaderCompleteness,
                "leader \(leader) of term \(term) holds \(what) at index \(index), committed with term \(committedTerm) (seen committed in term \(committed.observedIn[i]))")
        }
    }
}
