import Robustness
import Testing

/// Acknowledged writes survive to the end of a run, or were provably overwritten.
@Suite struct DurabilityCheckerTests {
    @Test func survivingOverwrittenAndDeletedWritesPass() {
        var h = HistoryBuilder()
        h.put(0, 0, 10, "a", "1", rev: 2)
        h.put(0, 20, 30, "a", "2", rev: 3)
        h.put(0, 40, 50, "b", "1", rev: 4)
        h.add(0, 60, 70, .delete(key: "b"), .delete(revision: 5, deleted: 1))
        let lost = DurabilityChecker.check(history: h.ops, finalKVs: [kv("a", "2", mod: 3, create: 2, version: 2)], watchers: [])
        #expect(lost.isEmpty, "\(lost)")
    }

    @Test func lostAcknowledgedWriteIsCaught() {
        var h = HistoryBuilder()
        h.put(0, 0, 10, "a", "1", rev: 2)
        h.put(0, 20, 30, "a", "2", rev: 3)
        // The end state went back to the first value: the second acknowledged write is lost.
        let lost = DurabilityChecker.check(history: h.ops, finalKVs: [kv("a", "1", mod: 2)], watchers: [])
        #expect(lost.count == 1)
        #expect(lost.first?.write.id == 1)
    }

    @Test func vanishedKeyWithoutDeleteIsCaught() {
        var h = HistoryBuilder()
        h.put(0, 0, 10, "a", "1", rev: 2)
        #expect(DurabilityChecker.check(history: h.ops, finalKVs: [], watchers: []).count == 1)
        // A delete event seen by a watcher explains it.
        let w = WatcherLog(id: 0, startRevision: 1, entries: [.events(headerRevision: 3, events: [.init(isDelete: true, key: "a", value: "", revision: 3)])])
        #expect(DurabilityChecker.check(history: h.ops, finalKVs: [], watchers: [w]).isEmpty)
    }
}
