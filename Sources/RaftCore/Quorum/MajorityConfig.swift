import Base

/// The outcome of an election tally.
enum VoteResult: Equatable {
    /// Not decided yet: missing votes could still swing it.
    case pending
    /// A quorum rejected.
    case lost
    /// A quorum granted.
    case won
}

/// A set of voters that decides by simple majority (one side of a joint configuration).
/// Pure: it owns only the member IDs.
struct MajorityConfig: Equatable, CustomStringConvertible {
    var voters: IDSet = []

    init(_ voters: IDSet = []) { self.voters = voters }

    var description: String { voters.description }

    /// The largest index acknowledged by a majority, given each voter's acknowledged
    /// index (`nil`: unknown, counts as 0). An empty config returns `UInt64.max` so that
    /// it does not constrain a joint configuration.
    func committedIndex(_ acked: (ReplicaID) -> UInt64?) -> UInt64 {
        let n = voters.count
        if n == 0 { return .max }
        return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: n) { buf in
            var buffer = buf
            for (i, id) in voters.ids.enumerated() { buffer[i] = acked(id) ?? 0 }
            buffer.sort()
            // The (n/2+1)-th largest value is acknowledged by a quorum.
            return buffer[n - (n / 2 + 1)]
        }
    }

    /// Tallies `votes` (`nil`: not voted yet). An empty config wins (by convention, so a
    /// joint config with an empty outgoing half behaves like its incoming half).
    func voteResult(_ votes: (ReplicaID) -> Bool?) -> VoteResult {
        if voters.isEmpty { return .won }
        var granted = 0
        var missing = 0
        for id in voters {
            switch votes(id) {
            case .some(true): granted += 1
            case .some(false): break
            case .none: missing += 1
            }
        }
        let quorum = voters.count / 2 + 1
        if granted >= quorum { return .won }
        if granted + missing >= quorum { return .pending }
        return .lost
    }
}
