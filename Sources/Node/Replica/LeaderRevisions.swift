import Base

/// The revision bookkeeping of one replica while it leads its range, reset whenever it
/// becomes leader in a new term (DESIGN.md §3). Owns: the closed revision, the write
/// proposals waiting for revisions, and the writes appended in this term that have not
/// applied yet. Pure bookkeeping (the poll loop drives it); knows no clock and no oracle.
///
/// Invariants: revisions of `appended` increase with their log index, and every one is
/// above the `closed` value in force when it was assigned; `lastAssigned >= closed` is not
/// required (closing may jump ahead), but a revision is only assigned when it is above
/// both `closed` and `lastAssigned`.
struct LeaderRevisions {
    /// The term this state belongs to.
    var term: UInt64 = 0
    /// Index of the leader's first entry of `term` (its empty entry): once applied, every
    /// entry of earlier terms that will ever apply has applied.
    var termStartIndex: UInt64 = 0
    /// The closed revision C: no write proposed by this leader from now on gets a
    /// revision <= C.
    var closed: Int64 = 0
    /// The highest revision assigned in this term.
    var lastAssigned: Int64 = 0
    /// Write proposals waiting for a revision, in arrival order.
    var waiting: [ProposalRequest] = []
    /// Writes appended in this term and not yet applied: (revision, log index).
    var appended: [(revision: Int64, index: UInt64)] = []

    init() {}

    init(term: UInt64, termStartIndex: UInt64) {
        self.term = term
        self.termStartIndex = termStartIndex
    }

    /// Promises that no later write of this leader gets a revision <= `revision`.
    mutating func close(at revision: Int64) { closed = max(closed, revision) }

    /// The highest log index of a write appended in this term with a revision <=
    /// `revision` that has not applied yet (0 when none): a read or close at `revision`
    /// must wait for it.
    func lastIndex(atOrBelow revision: Int64) -> UInt64 {
        for a in appended.reversed() where a.revision <= revision { return a.index }
        return 0
    }

    /// Whether `revision` may be given to a write now.
    func canAssign(_ revision: Int64) -> Bool { revision > closed && revision > lastAssigned }

    /// Records a write appended at `index` with `revision`.
    mutating func noteAppended(revision: Int64, index: UInt64) {
        precondition(canAssign(revision), "revision \(revision) not above closed \(closed) / last \(lastAssigned)")
        lastAssigned = revision
        appended.append((revision, index))
    }

    /// Forgets appended writes at or below `applied`.
    mutating func pruneApplied(_ applied: UInt64) {
        guard let first = appended.first, first.index <= applied else { return }
        appended.removeAll { $0.index <= applied }
    }

    /// Removes and returns the waiting write proposals (e.g. when leadership is lost).
    mutating func takeWaiting() -> [ProposalRequest] {
        defer { waiting = [] }
        return waiting
    }
}
