import Base
import RaftCore
import Simulation
import Testing

/// A hand-built log for the checkers: `terms[k]` is the term of index `offsetIndex + 1 + k`.
struct TestLog: LogView {
    var offsetIndex: UInt64 = 0
    var offsetTerm: UInt64 = 0
    var terms: [UInt64]
    func termIfPresent(_ index: UInt64) -> UInt64? {
        if index == offsetIndex { return offsetTerm }
        if index < offsetIndex || index > lastIndex() { return nil }
        return terms[Int(index - offsetIndex - 1)]
    }
    func lastIndex() -> UInt64 { offsetIndex + UInt64(terms.count) }
}

/// The kind of violation `body` throws, or nil when it passes.
func kind(_ body: () throws -> Void) -> SafetyViolation.Kind? {
    do {
        try body()
        return nil
    } catch {
        return (error as? SafetyViolation)?.kind
    }
}

func entries(_ spec: [(index: UInt64, term: UInt64, data: String)]) -> ArraySlice<Entry> {
    spec.map { Entry(term: $0.term, index: $0.index, data: Array($0.data.utf8)) }[...]
}

@Suite("Election safety checker")
struct ElectionSafetyCheckerTests {
    @Test func twoLeadersInOneTermFire() {
        var c = ElectionSafetyChecker()
        #expect(kind { try c.observeLeader(1, term: 3) } == nil)
        #expect(kind { try c.observeLeader(1, term: 3) } == nil, "the same leader seen twice is fine")
        #expect(kind { try c.observeLeader(2, term: 4) } == nil)
        #expect(kind { try c.observeLeader(2, term: 3) } == .electionSafety)
    }
}

@Suite("Log matching checker")
struct LogMatchingCheckerTests {
    @Test func consistentLogsPass() {
        var c = LogMatchingChecker()
        #expect(kind { try c.observeAppend(1, prevTerm: 1, entries: entries([(2, 1, "a"), (3, 2, "b")])) } == nil)
        #expect(kind { try c.observeAppend(2, prevTerm: 1, entries: entries([(2, 1, "a")])) } == nil)
        #expect(kind { try c.observeAppend(2, prevTerm: 1, entries: entries([(3, 2, "b"), (4, 2, "c")])) } == nil)
        // A different term at an index is a different entry (a conflicting, unreplicated suffix).
        #expect(kind { try c.observeAppend(3, prevTerm: 1, entries: entries([(3, 3, "x")])) } == nil)
    }

    @Test func sameIndexAndTermWithDifferentContentFires() {
        var c = LogMatchingChecker()
        #expect(kind { try c.observeAppend(1, prevTerm: 1, entries: entries([(2, 2, "a")])) } == nil)
        #expect(kind { try c.observeAppend(2, prevTerm: 1, entries: entries([(2, 2, "b")])) } == .logMatching)
    }

    @Test func sameIndexAndTermAfterDifferentPrefixFires() {
        var c = LogMatchingChecker()
        #expect(kind { try c.observeAppend(1, prevTerm: 1, entries: entries([(2, 1, "a"), (3, 2, "b")])) } == nil)
        // Replica 2 holds (3, t2) with identical content, but after a term-2 entry at index 2.
        #expect(kind { try c.observeAppend(2, prevTerm: 1, entries: entries([(2, 2, "z"), (3, 2, "b")])) } == .logMatching)
    }
}

@Suite("Committed log and commit index checkers")
struct CommittedLogCheckerTests {
    @Test func committedIndexChangingTermFires() {
        var c = CommittedLogChecker()
        #expect(kind { try c.observeCommitted(1, index: 5, term: 2, currentTerm: 2) } == nil)
        #expect(kind { try c.observeCommitted(2, index: 5, term: 2, currentTerm: 3) } == nil)
        #expect(c.term(at: 5) == 2)
        #expect(c.observedIn[5] == 2, "the earliest observation term is kept")
        #expect(kind { try c.observeCommitted(3, index: 5, term: 3, currentTerm: 3) } == .committedEntryLost)
    }

    @Test func commitIndexGoingBackwardsFiresUnlessRestarted() {
        var c = CommitIndexChecker()
        #expect(kind { try c.observeCommitIndex(1, 7) } == nil)
        #expect(kind { try c.observeCommitIndex(1, 6) } == .commitRegressed)
        c.restarted(1)
        #expect(kind { try c.observeCommitIndex(1, 4) } == nil, "a restart may resume from the durable commit index")
    }
}

@Suite("Leader completeness checker")
struct LeaderCompletenessCheckerTests {
    func committedLog(_ spec: [(index: UInt64, term: UInt64, seenIn: UInt64)]) -> CommittedLogChecker {
        var c = CommittedLogChecker()
        for e in spec { _ = try? c.observeCommitted(9, index: e.index, term: e.term, currentTerm: e.seenIn) }
        return c
    }

    @Test func leaderMissingAnEarlierCommittedEntryFires() {
        let committed = committedLog([(1, 1, 1), (2, 1, 1), (3, 1, 1)])
        let checker = LeaderCompletenessChecker()
        let complete = TestLog(terms: [1, 1, 1, 2])
        #expect(kind { try checker.checkLeader(1, term: 2, log: complete, committed: committed) } == nil)
        let short = TestLog(terms: [1, 1])
        #expect(kind { try checker.checkLeader(2, term: 2, log: short, committed: committed) } == .leaderCompleteness)
        let overwritten = TestLog(terms: [1, 1, 2])
        #expect(kind { try checker.checkLeader(3, term: 2, log: overwritten, committed: committed) } == .leaderCompleteness)
    }

    @Test func entriesCommittedInTheLeadersOwnOrLaterTermsAreNotRequired() {
        let committed = committedLog([(1, 1, 1), (2, 3, 3)])
        let checker = LeaderCompletenessChecker()
        // Leader of term 3 without index 2: index 2 was only seen committed in term 3.
        #expect(kind { try checker.checkLeader(1, term: 3, log: TestLog(terms: [1]), committed: committed) } == nil)
        // A leader of term 4 must have it.
        #expect(kind { try checker.checkLeader(1, term: 4, log: TestLog(terms: [1]), committed: committed) } == .leaderCompleteness)
    }

    @Test func compactedPrefixCountsAsHeld() {
        let committed = committedLog([(1, 1, 1), (2, 1, 1), (3, 1, 1)])
        let compacted = TestLog(offsetIndex: 3, offsetTerm: 1, terms: [2])
        #expect(kind { try LeaderCompletenessChecker().checkLeader(1, term: 2, log: compacted, committed: committed) } == nil)
    }

    @Test func newlyCommittedEntryCheckedAgainstExistingLeader() {
        let committed = committedLog([(4, 2, 2)])
        let checker = LeaderCompletenessChecker()
        #expect(kind { try checker.checkEntry(1, term: 3, log: TestLog(terms: [1, 1, 2]), index: 4, committed: committed) } == .leaderCompleteness)
        #expect(kind { try checker.checkEntry(1, term: 3, log: TestLog(terms: [1, 1, 2, 2]), index: 4, committed: committed) } == nil)
    }
}

@Suite("State machine safety checker")
struct StateMachineSafetyCheckerTests {
    @Test func differentStateAtTheSameIndexFires() {
        var c = StateMachineSafetyChecker()
        var a = DigestStateMachine(bootstrapIndex: 1, confState: ConfState(voters: [1]))
        var b = a
        a.apply(Entry(term: 1, index: 2, data: [1]))
        b.apply(Entry(term: 1, index: 2, data: [1]))
        #expect(kind { try c.observeApplied(1, index: 2, digest: a.digest) } == nil)
        #expect(kind { try c.observeApplied(2, index: 2, digest: b.digest) } == nil)
        a.apply(Entry(term: 1, index: 3, data: [2]))
        b.apply(Entry(term: 2, index: 3, data: [2]))
        #expect(kind { try c.observeApplied(1, index: 3, digest: a.digest) } == nil)
        #expect(kind { try c.observeApplied(2, index: 3, digest: b.digest) } == .stateMachineSafety)
    }
}

@Suite("Linearizable read checker")
struct LinearizableReadCheckerTests {
    @Test func readBelowAnEarlierCommitFires() {
        var c = LinearizableReadChecker()
        c.issue(1, committedIndex: 10)
        c.issue(2, committedIndex: 10)
        #expect(kind { try c.observe(1, id: 1, readIndex: 10) } == nil)
        #expect(kind { try c.observe(3, id: 1, readIndex: 12) } == nil, "a duplicate answer above the floor is fine")
        #expect(kind { try c.observe(2, id: 2, readIndex: 9) } == .staleRead)
        #expect(kind { try c.observe(2, id: 99, readIndex: 0) } == nil, "unknown requests are ignored")
        #expect(c.served == 3)
    }
}
