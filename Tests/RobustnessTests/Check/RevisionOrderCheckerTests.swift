import Robustness
import Testing

/// Whole-history revision rules: real-time order of revisions and unique write revisions.
@Suite struct RevisionOrderCheckerTests {
    @Test func increasingRevisionsWithGapsPass() {
        var h = HistoryBuilder()
        h.put(0, 0, 10, "a", "1", rev: 2)
        h.put(1, 5, 15, "b", "1", rev: 9)
        h.put(0, 20, 30, "c", "1", rev: 12)
        h.get(1, 40, 50, "a", rev: 12, [kv("a", "1", mod: 2)])
        #expect(RevisionOrderChecker.check(h.ops).isEmpty)
    }

    @Test func nonMonotonicWriteRevisionsAcrossKeysAreCaught() {
        var h = HistoryBuilder()
        h.put(0, 0, 10, "a", "1", rev: 9)
        h.put(1, 20, 30, "b", "1", rev: 4)
        let v = RevisionOrderChecker.check(h.ops)
        #expect(v.count == 1)
        #expect(v.first?.later.id == 1)
    }

    @Test func staleHeaderRevisionOnAnotherKeyIsCaught() {
        var h = HistoryBuilder()
        h.put(0, 0, 10, "a", "1", rev: 9)
        h.get(1, 20, 30, "b", rev: 8, [])
        #expect(RevisionOrderChecker.check(h.ops).count == 1)
    }

    @Test func duplicateWriteRevisionIsCaught() {
        var h = HistoryBuilder()
        h.put(0, 0, 10, "a", "1", rev: 5)
        h.put(1, 0, 10, "b", "1", rev: 5)
        #expect(RevisionOrderChecker.check(h.ops).contains { $0.rule.contains("same revision") })
    }

    @Test func unknownWritesAreNotOrdered() {
        var h = HistoryBuilder()
        h.put(0, 0, 10, "a", "1", rev: 9)
        h.put(1, 20, nil, "b", "1", rev: nil)
        #expect(RevisionOrderChecker.check(h.ops).isEmpty)
    }
}
