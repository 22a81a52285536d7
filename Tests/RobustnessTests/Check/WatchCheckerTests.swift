import Robustness
import Testing

/// Watch guarantees: a clean log passes; each crafted violation is caught by name.
@Suite struct WatchCheckerTests {
    static func put(_ k: String, _ v: String, _ r: Int64) -> WatchEventRecord { .init(isDelete: false, key: k, value: v, revision: r) }

    static var history: [HistoryOperation] {
        var h = HistoryBuilder()
        h.put(0, 0, 10, "a", "a1", rev: 2)
        h.put(0, 20, 30, "b", "b1", rev: 3)
        h.put(0, 40, 50, "a", "a2", rev: 4)
        return h.ops
    }

    static var clean: WatcherLog {
        WatcherLog(
            id: 0, startRevision: 1,
            entries: [
                .created(startRevision: 1, endpoint: "e1"),
                .events(headerRevision: 3, events: [put("a", "a1", 2), put("b", "b1", 3)]),
                .broken(reason: "killed"),
                .created(startRevision: 4, endpoint: "e2"),
                .events(headerRevision: 4, events: [put("a", "a2", 4)]),
                .progress(revision: 4),
            ])
    }

    @Test func cleanResumedLogPasses() {
        let late = WatcherLog(
            id: 1, startRevision: 3,
            entries: [.created(startRevision: 3, endpoint: "e3"), .events(headerRevision: 4, events: [Self.put("b", "b1", 3), Self.put("a", "a2", 4)])])
        #expect(WatchChecker.check([Self.clean, late], history: Self.history).isEmpty)
    }

    @Test func duplicateWatchEventIsCaught() {
        var w = Self.clean
        // A bad resume delivers revision 3 again.
        w.entries.insert(.events(headerRevision: 3, events: [Self.put("b", "b1", 3)]), at: 4)
        let v = WatchChecker.check([w], history: Self.history)
        #expect(v.contains { $0.rule.contains("duplicate") }, "\(v)")
    }

    @Test func outOfOrderEventIsCaught() {
        let w = WatcherLog(
            id: 0, startRevision: 1,
            entries: [.events(headerRevision: 3, events: [Self.put("b", "b1", 3), Self.put("a", "a1", 2)])])
        #expect(WatchChecker.check([w], history: Self.history).contains { $0.rule.contains("out of order") })
    }

    @Test func gapInWatchIsCaught() {
        var w = Self.clean
        w.entries[1] = .events(headerRevision: 3, events: [Self.put("a", "a1", 2)])  // revision 3 missing
        let v = WatchChecker.check([w], history: Self.history)
        #expect(v.contains { $0.rule.contains("missing") }, "\(v)")
    }

    @Test func revisionSplitAcrossResponsesIsCaught() {
        let events = [WatchEventRecord(isDelete: false, key: "a", value: "x", revision: 5), .init(isDelete: false, key: "b", value: "y", revision: 5)]
        var h = HistoryBuilder()
        h.add(0, 0, nil, .put(key: "a", value: "x", lease: 0), .unknown(reason: "t"))
        h.add(0, 0, nil, .put(key: "b", value: "y", lease: 0), .unknown(reason: "t"))
        let w = WatcherLog(id: 0, startRevision: 1, entries: [.events(headerRevision: 5, events: [events[0]]), .events(headerRevision: 5, events: [events[1]])])
        #expect(WatchChecker.check([w], history: h.ops).contains { $0.rule.contains("split") })
    }

    @Test func eventBelowProgressNotificationIsCaught() {
        let w = WatcherLog(
            id: 0, startRevision: 1,
            entries: [.progress(revision: 3), .events(headerRevision: 3, events: [Self.put("b", "b1", 3)])])
        #expect(WatchChecker.check([w], history: Self.history).contains { $0.rule.contains("progress") })
    }

    @Test func watchersDisagreeingIsCaught() {
        var other = Self.clean
        other.id = 1
        other.entries[1] = .events(headerRevision: 3, events: [Self.put("a", "a1", 2), Self.put("b", "other", 3)])
        #expect(!WatchChecker.check([Self.clean, other], history: Self.history).isEmpty)
    }
}
