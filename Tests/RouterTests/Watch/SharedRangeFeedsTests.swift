import API
import Base
import MVCC
import Node
@testable import Router
import Synchronization
import Testing

/// Watch fan-out: the router's watchers of one range share one range feed, and each still
/// gets exactly the events of its span from its start revision, in order.
@Suite struct SharedRangeFeedsTests {
    typealias Acked = (key: [UInt8], revision: Int64, put: Bool)

    /// Puts to keys k10...k19 (all in the range [k10, k20) of `makeRouter`).
    static func putInOneRange(_ router: Router, count: Int, seed: UInt64) async throws -> [Acked] {
        var rng = SeededGenerator(seed: seed)
        var acked: [Acked] = []
        for i in 0..<count {
            let k = key(10 + Int.random(in: 0..<10, using: &rng))
            let r = try await router.put(PutRequest(key: k, value: bytes("v\(i)")))
            acked.append((k, r.revision, true))
        }
        return acked
    }

    /// Waits (hang bound, not a performance bound) until `condition` holds.
    static func eventually(_ what: String, _ condition: () -> Bool) async {
        let deadline = ContinuousClock.now + .seconds(20)
        while !condition() {
            if ContinuousClock.now > deadline {
                Issue.record("timed out waiting until \(what)")
                return
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    @Test(arguments: [UInt64(41), 42])
    func manyWatchersOfARangeShareOneFeedAndEachGetsItsEvents(seed: UInt64) async throws {
        let (router, cluster) = try makeRouter()
        let start = try await router.currentRevision() + 1
        let opened = cluster.feedsOpened
        // 20 watchers: single keys k10...k19 twice, over one range.
        var spans: [KeySpan] = []
        var feeds: [WatchEventStream] = []
        for i in 0..<20 {
            let k = key(10 + i % 10)
            let rangeEnd: [UInt8] = i % 3 == 0 ? key(20) : []  // some watch [k, k20)
            spans.append(KeySpan(key: k, rangeEnd: rangeEnd))
            feeds.append(try await router.watch(WatchSpec(key: k, rangeEnd: rangeEnd, startRevision: start)))
        }
        let acked = try await Self.putInOneRange(router, count: 40, seed: seed)
        let last = acked.last!.revision
        _ = try await router.currentRevision()
        for (i, feed) in feeds.enumerated() {
            let (events, synced) = try await RouterWatchTests.collect(feed, until: last)
            RouterWatchTests.check(events, acked.filter { spans[i].contains($0.key) }, synced: synced, seed: seed)
        }
        #expect(cluster.feedsOpened - opened == 1, "seed \(seed): \(cluster.feedsOpened - opened) range feeds for 20 watchers")
        #expect(router.feeds.hubCount == 1)
        feeds.removeAll()
        await Self.eventually("the last watcher left and the shared feed stopped") { router.feeds.hubCount == 0 }
    }

    @Test func aWatcherJoiningLaterGetsExactlyTheEventsFromItsStart() async throws {
        let (router, cluster) = try makeRouter()
        let start = try await router.currentRevision() + 1
        let opened = cluster.feedsOpened
        let early = try await router.watch(WatchSpec(key: key(10), rangeEnd: key(20), startRevision: start))
        let first = try await Self.putInOneRange(router, count: 10, seed: 51)
        // The early watcher has taken nothing yet: the shared feed still holds everything.
        let lateStart = first.last!.revision + 1
        let late = try await router.watch(WatchSpec(key: key(10), rangeEnd: key(20), startRevision: lateStart))
        let second = try await Self.putInOneRange(router, count: 10, seed: 52)
        let last = second.last!.revision
        _ = try await router.currentRevision()
        let (lateEvents, lateSynced) = try await RouterWatchTests.collect(late, until: last)
        RouterWatchTests.check(lateEvents, second, synced: lateSynced, seed: 52)
        let (earlyEvents, earlySynced) = try await RouterWatchTests.collect(early, until: last)
        RouterWatchTests.check(earlyEvents, first + second, synced: earlySynced, seed: 51)
        #expect(cluster.feedsOpened - opened == 1, "the late watcher joined the running feed")
    }

    @Test func aWatcherFromAnOlderRevisionThanTheSharedFeedHoldsGetsAFeedOfItsOwn() async throws {
        let (router, cluster) = try makeRouter()
        router.feeds.settings.withLock { $0.retain = .zero }  // taken items are dropped at once
        let start = try await router.currentRevision() + 1
        let opened = cluster.feedsOpened
        let current = try await router.watch(WatchSpec(key: key(10), rangeEnd: key(20), startRevision: start))
        let first = try await Self.putInOneRange(router, count: 10, seed: 61)
        _ = try await router.currentRevision()
        let (seen, _) = try await RouterWatchTests.collect(current, until: first.last!.revision)
        #expect(seen.count == first.count)
        // One more item makes the shared feed drop what every watcher has taken.
        let second = try await Self.putInOneRange(router, count: 5, seed: 62)
        _ = try await router.currentRevision()
        _ = try await RouterWatchTests.collect(current, until: second.last!.revision)
        let historic = try await router.watch(WatchSpec(key: key(10), rangeEnd: key(20), startRevision: start))
        let last = second.last!.revision
        let (events, synced) = try await RouterWatchTests.collect(historic, until: last)
        RouterWatchTests.check(events, first + second, synced: synced, seed: 62)
        #expect(cluster.feedsOpened - opened == 2, "the historic watcher read a feed of its own")
    }

    @Test func aFailingSharedFeedReSubscribesEveryWatcherWithoutLossOrDuplicates() async throws {
        let (router, cluster) = try makeRouter()
        let start = try await router.currentRevision() + 1
        let a = try await router.watch(WatchSpec(key: key(10), rangeEnd: key(20), startRevision: start))
        let b = try await router.watch(WatchSpec(key: key(12), startRevision: start))
        let first = try await Self.putInOneRange(router, count: 10, seed: 71)
        cluster.injectFeedFailure(.proposalDropped("feed node went away"), into: cluster.rangeID(of: key(12)))
        let second = try await Self.putInOneRange(router, count: 10, seed: 72)
        let last = second.last!.revision
        _ = try await router.currentRevision()
        let (aEvents, aSynced) = try await RouterWatchTests.collect(a, until: last)
        RouterWatchTests.check(aEvents, first + second, synced: aSynced, seed: 71)
        let (bEvents, bSynced) = try await RouterWatchTests.collect(b, until: last)
        RouterWatchTests.check(bEvents, (first + second).filter { $0.key == key(12) }, synced: bSynced, seed: 72)
    }

    @Test func aWatcherFromARevisionTheSharedFeedStillRetainsJoinsIt() async throws {
        let (router, cluster) = try makeRouter()
        router.feeds.settings.withLock { $0.retain = .seconds(600) }  // hang bound: far longer than the test
        let start = try await router.currentRevision() + 1
        let opened = cluster.feedsOpened
        let current = try await router.watch(WatchSpec(key: key(10), rangeEnd: key(20), startRevision: start))
        let first = try await Self.putInOneRange(router, count: 10, seed: 81)
        _ = try await router.currentRevision()
        _ = try await RouterWatchTests.collect(current, until: first.last!.revision)
        // Every subscriber took those items; the hub keeps them for late joiners.
        let second = try await Self.putInOneRange(router, count: 5, seed: 82)
        _ = try await router.currentRevision()
        _ = try await RouterWatchTests.collect(current, until: second.last!.revision)
        let late = try await router.watch(WatchSpec(key: key(10), rangeEnd: key(20), startRevision: start))
        let last = second.last!.revision
        let (events, synced) = try await RouterWatchTests.collect(late, until: last)
        RouterWatchTests.check(events, first + second, synced: synced, seed: 82)
        #expect(cluster.feedsOpened - opened == 1, "the late watcher joined the shared feed")
    }

    /// The items of `feed` up to and including the first with events.
    static func untilFirstEvents(_ feed: WatchEventStream) async throws -> (events: [WatchEvent], synced: [Int64]) {
        var synced: [Int64] = []
        for try await item in feed {
            switch item {
            case .events(let e, let s):
                synced.append(s)
                if !e.isEmpty { return (e, synced) }
            case .progress(let s):
                synced.append(s)
            case .compacted:
                Issue.record("unexpected compaction")
                return ([], synced)
            }
        }
        return ([], synced)
    }

    @Test func aSingleRangeWatcherIsWokenByItsOwnEventsNotByEveryItem() async throws {
        let (router, _) = try makeRouter()
        router.feeds.settings.withLock { $0.progressEvery = .seconds(3600) }  // no progress wake-ups here
        let start = try await router.currentRevision() + 1
        let watched = try await router.watch(WatchSpec(key: key(10), startRevision: start))
        // Keeps the shared feed's items flowing while the watcher of k10 waits.
        let other = try await router.watch(WatchSpec(key: key(11), startRevision: start))
        let waiting = Task { try await Self.untilFirstEvents(watched) }
        var acked: [Acked] = []
        for i in 0..<30 {
            let r = try await router.put(PutRequest(key: key(11), value: bytes("o\(i)")))
            acked.append((key(11), r.revision, true))
        }
        let (otherEvents, otherSynced) = try await RouterWatchTests.collect(other, until: acked.last!.revision)
        RouterWatchTests.check(otherEvents, acked, synced: otherSynced, seed: 0)
        let mine = try await router.put(PutRequest(key: key(10), value: bytes("mine")))
        let (events, synced) = try await waiting.value
        RouterWatchTests.check(events, [(key(10), mine.revision, true)], synced: synced, seed: 0)
        // Parked through the 30 puts to k11: woken by its own event, not by every item.
        #expect(synced.count <= 3, "the k10 watcher took \(synced.count) items for 31 puts, 1 of them its own")
    }
}
