import Robustness
import Testing

/// Unknown writes are resolved by what was observed; refusals and failed reads are dropped.
@Suite struct HistoryPatcherTests {
    @Test func observedUnknownWriteGetsItsRevisionAndUnobservedOneIsDropped() {
        var h = HistoryBuilder()
        h.put(0, 0, nil, "a", "seen", rev: nil)
        h.put(1, 0, nil, "b", "never", rev: nil)
        h.get(2, 50, 60, "a", rev: 9, [kv("a", "seen", mod: 9)])
        let patched = HistoryPatcher.patch(h.ops, watchers: [], watchComplete: true)
        #expect(patched.count == 2)
        #expect(patched.first?.output == .put(revision: 9))
        // It took effect before the read that saw revision 9 returned.
        #expect(patched.first?.returnTime == 60_000)
        // Without a complete watch the unobserved write stays unknown.
        #expect(HistoryPatcher.patch(h.ops, watchers: [], watchComplete: false).count == 3)
    }

    @Test func failedReadsAndUnexplainedRefusalsAreDropped() {
        var h = HistoryBuilder()
        h.add(0, 0, 10, .get(key: "a"), .failed(code: "unavailable", message: "x"))
        h.add(0, 20, 30, .put(key: "a", value: "v", lease: 0), .failed(code: "invalidArgument", message: "x"))
        h.add(0, 40, 50, .put(key: "a", value: "w", lease: 7), .failed(code: "notFound", message: "etcdserver: requested lease not found"))
        let patched = HistoryPatcher.patch(h.ops, watchers: [], watchComplete: true)
        #expect(patched.map(\.id) == [2])
    }

    @Test func patchedHistoryCatchesAWriteSeenAtAnImpossibleRevision() {
        var h = HistoryBuilder()
        h.put(0, 0, 10, "a", "1", rev: 5)
        h.put(1, 20, nil, "a", "2", rev: nil)
        // The watch claims the unknown write (called after revision 5 was acknowledged) took revision 4.
        let w = WatcherLog(id: 0, startRevision: 1, entries: [.events(headerRevision: 5, events: [.init(isDelete: false, key: "a", value: "2", revision: 4)])])
        let patched = HistoryPatcher.patch(h.ops, watchers: [w], watchComplete: true)
        #expect(!LinearizabilityChecker().check(patched).isLinearizable)
    }
}
