import Base
import Testing
@testable import RaftCore

@Suite struct RaftLogTests {
    /// A log whose storage holds `stored` (after a snapshot at `snapshotIndex`, term 1)
    /// and whose unstable part holds `unstable`.
    static func log(snapshotIndex: UInt64 = 0, stored: [Entry] = [], unstable: [Entry] = []) -> RaftLog {
        let s = MemoryStorage()
        if snapshotIndex > 0 {
            try! s.applySnapshot(Snapshot(metadata: SnapshotMetadata(index: snapshotIndex, term: 1)))
        }
        s.append(stored)
        var l = RaftLog(storage: s)
        l.append(unstable[...])
        return l
    }

    @Test func indexesSpanStorageAndUnstable() throws {
        let l = Self.log(snapshotIndex: 3, stored: entries(terms: [1, 2], from: 4), unstable: entries(terms: [2, 3], from: 6))
        #expect(l.firstIndex == 4)
        #expect(l.lastIndex == 7)
        #expect(l.lastTerm == 3)
        #expect(try l.term(3) == 1, "the snapshot's term stays available")
        #expect(try l.term(5) == 2)
        #expect(try l.term(7) == 3)
        #expect(throws: StorageError.compacted) { try l.term(2) }
        #expect(throws: StorageError.unavailable) { try l.term(8) }
        #expect(try l.slice(4, 8, maxBytes: .max).map(\.index) == [4, 5, 6, 7])
        #expect(try l.slice(5, 7, maxBytes: .max).map(\.index) == [5, 6])
        #expect(throws: StorageError.compacted) { try l.slice(3, 5, maxBytes: .max) }
    }

    @Test func sliceRespectsMaxBytesButReturnsAtLeastOne() throws {
        let ents = (1...5).map { Entry(term: 1, index: UInt64($0), data: [UInt8](repeating: 0, count: 10)) }
        let l = Self.log(stored: Array(ents.prefix(2)), unstable: Array(ents.suffix(3)))
        #expect(try l.slice(1, 6, maxBytes: 25).count == 2)
        #expect(try l.slice(1, 6, maxBytes: 5).count == 1)
        #expect(try l.slice(2, 6, maxBytes: 30).count == 3, "crossing storage/unstable")
        #expect(try l.slice(1, 6, maxBytes: 1000).count == 5)
    }

    @Test func findConflict() {
        let l = Self.log(stored: entries(terms: [1, 2, 3]))
        #expect(l.findConflict([]) == 0)
        #expect(l.findConflict(entries(terms: [1, 2, 3])) == 0, "all present")
        #expect(l.findConflict(entries(terms: [2, 3], from: 2)) == 0)
        #expect(l.findConflict(entries(terms: [2, 3, 4, 5], from: 2)) == 4, "first new entry")
        #expect(l.findConflict(entries(terms: [1, 4, 4], from: 1)) == 2, "first conflict")
        #expect(l.findConflict(entries(terms: [4, 4], from: 3)) == 3)
    }

    @Test func findConflictByTerm() {
        // terms at indexes 1...6: 1 1 2 2 5 5
        let l = Self.log(stored: entries(terms: [1, 1, 2, 2, 5, 5]))
        #expect(l.findConflictByTerm(index: 6, term: 5) == (6, 5))
        #expect(l.findConflictByTerm(index: 6, term: 4) == (4, 2), "skips the whole term-5 run")
        #expect(l.findConflictByTerm(index: 6, term: 2) == (4, 2))
        #expect(l.findConflictByTerm(index: 6, term: 1) == (2, 1))
        #expect(l.findConflictByTerm(index: 6, term: 0) == (0, 0))
        let compacted = Self.log(snapshotIndex: 4, stored: entries(terms: [5, 5], from: 5))
        #expect(compacted.findConflictByTerm(index: 6, term: 2) == (4, 1), "stops at the snapshot")
    }

    @Test func maybeAppend() {
        struct Case {
            var index: UInt64, logTerm: UInt64, commit: UInt64, ents: [Entry]
            var lastNew: UInt64?, committed: UInt64, terms: [UInt64]
        }
        // log: 1 2 3, committed 1
        let cases = [
            Case(index: 3, logTerm: 2, commit: 3, ents: [], lastNew: nil, committed: 1, terms: [1, 2, 3]),  // mismatch
            Case(index: 4, logTerm: 3, commit: 3, ents: [], lastNew: nil, committed: 1, terms: [1, 2, 3]),  // gap
            Case(index: 3, logTerm: 3, commit: 3, ents: [], lastNew: 3, committed: 3, terms: [1, 2, 3]),
            Case(index: 3, logTerm: 3, commit: 5, ents: [], lastNew: 3, committed: 3, terms: [1, 2, 3]),  // commit capped
            Case(index: 3, logTerm: 3, commit: 5, ents: entries(terms: [4], from: 4), lastNew: 4, committed: 4, terms: [1, 2, 3, 4]),
            Case(index: 2, logTerm: 2, commit: 2, ents: entries(terms: [4], from: 3), lastNew: 3, committed: 2, terms: [1, 2, 4]),  // truncate
            Case(index: 1, logTerm: 1, commit: 1, ents: entries(terms: [2, 3], from: 2), lastNew: 3, committed: 1, terms: [1, 2, 3]),  // duplicate
            Case(index: 1, logTerm: 1, commit: 1, ents: entries(terms: [2], from: 2), lastNew: 2, committed: 1, terms: [1, 2, 3]),  // old prefix keeps suffix
        ]
        for (i, c) in cases.enumerated() {
            var l = Self.log(stored: entries(terms: [1, 2, 3]))
            l.committed = 1
            let got = l.maybeAppend(index: c.index, logTerm: c.logTerm, commit: c.commit, entries: c.ents)
            #expect(got == c.lastNew, "case \(i)")
            #expect(l.committed == c.committed, "case \(i)")
            #expect(l.allEntries().map(\.term) == c.terms, "case \(i)")
        }
    }

    @Test func commitOnlyForCurrentTermEntry() {
        var l = Self.log(stored: entries(terms: [1, 2, 3]))
        let a = l.maybeCommit(index: 2, term: 3)
        #expect(!a, "entry 2 has term 2")
        #expect(l.committed == 0)
        let b = l.maybeCommit(index: 3, term: 3)
        #expect(b)
        #expect(l.committed == 3)
        let c = l.maybeCommit(index: 2, term: 2)
        #expect(!c, "never moves back")
    }

    @Test func nextCommittedEntriesRespectsApplied() {
        var l = Self.log(stored: entries(terms: [1, 1]), unstable: entries(terms: [1, 1], from: 3))
        #expect(l.nextCommittedEntries().isEmpty)
        l.commitTo(3)
        #expect(l.nextCommittedEntries().map(\.index) == [1, 2, 3], "unstable committed entries included")
        l.appliedTo(2)
        #expect(l.nextCommittedEntries().map(\.index) == [3])
        #expect(l.hasNextCommittedEntries)
        l.appliedTo(3)
        #expect(!l.hasNextCommittedEntries)
    }

    @Test func stableToDropsOnlyMatchingEntries() {
        var l = Self.log(unstable: entries(terms: [1, 1, 2]))
        l.stableTo(index: 2, term: 2)  // wrong term: ignored
        #expect(l.unstable.entries.count == 3)
        l.stableTo(index: 2, term: 1)
        #expect(l.unstable.offset == 3 && l.unstable.entries.map(\.index) == [3])
    }

    @Test func restoreSnapshot() {
        var l = Self.log(stored: entries(terms: [1, 1]))
        l.restore(Snapshot(metadata: SnapshotMetadata(index: 10, term: 3)))
        #expect(l.committed == 10)
        #expect(l.firstIndex == 11 && l.lastIndex == 10)
        #expect(l.matchTerm(10, 3))
        #expect(l.hasPendingSnapshot)
        #expect(l.nextCommittedEntries().isEmpty)
    }
}

@Suite struct UnstableLogTests {
    @Test func truncateAndAppendCases() {
        var u = UnstableLog(offset: 5)
        u.truncateAndAppend(entries(terms: [1, 1, 1], from: 5)[...])
        #expect(u.entries.map(\.index) == [5, 6, 7])
        u.truncateAndAppend(entries(terms: [2], from: 8)[...])  // append
        #expect(u.entries.map(\.term) == [1, 1, 1, 2])
        u.truncateAndAppend(entries(terms: [3, 3], from: 6)[...])  // truncate in the middle
        #expect(u.entries.map(\.term) == [1, 3, 3] && u.offset == 5)
        u.truncateAndAppend(entries(terms: [4], from: 4)[...])  // replace everything
        #expect(u.entries.map(\.index) == [4] && u.offset == 4)
    }

    @Test func maybeTermWithSnapshot() {
        var u = UnstableLog(offset: 1)
        u.restore(Snapshot(metadata: SnapshotMetadata(index: 5, term: 2)))
        #expect(u.maybeTerm(5) == 2)
        #expect(u.maybeTerm(4) == nil)
        #expect(u.maybeFirstIndex == 6 && u.maybeLastIndex == 5)
        u.truncateAndAppend(entries(terms: [3], from: 6)[...])
        #expect(u.maybeTerm(6) == 3 && u.maybeLastIndex == 6)
        u.stableSnapTo(index: 5)
        #expect(u.snapshot == nil)
    }
}
