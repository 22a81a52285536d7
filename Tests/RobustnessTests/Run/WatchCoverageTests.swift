import Testing

@testable import Robustness

/// When do the watchers prove that an unobserved unknown write never happened? When their
/// covered windows together span every revision (not only when watcher 0 alone does: a
/// watcher from revision 1 that a compaction or a fault ended early left kill runs with
/// hundreds of unresolved unknown writes, which the search cannot afford).
@Suite struct WatchCoverageTests {
    func log(_ id: Int, start: Int64, progress: Int64) -> WatcherLog {
        WatcherLog(id: id, startRevision: start, entries: [.created(startRevision: start, endpoint: "e"), .progress(revision: progress)])
    }

    @Test func windowsThatTouchCoverTheRun() {
        #expect(RobustnessRun.watchersCover([log(0, start: 1, progress: 50), log(1, start: 40, progress: 120)], through: 120))
        #expect(RobustnessRun.watchersCover([log(1, start: 51, progress: 120), log(0, start: 1, progress: 50)], through: 100))
    }

    @Test func aHoleOrAShortfallIsNotCovered() {
        #expect(!RobustnessRun.watchersCover([log(0, start: 1, progress: 50), log(1, start: 52, progress: 120)], through: 120))
        #expect(!RobustnessRun.watchersCover([log(0, start: 1, progress: 50)], through: 51))
        #expect(!RobustnessRun.watchersCover([log(1, start: 2, progress: 90)], through: 90))
        #expect(!RobustnessRun.watchersCover([], through: 1))
    }
}
