import API
import Base
import Foundation
import MVCC
import Node
@testable import Router
import Synchronization
import Testing

extension NodeClusterAccessTests {
    /// On three real NodeHosts with the feed closer set to once an hour: a watch spanning
    /// ranges, served by a node that does not lead the range left without writes, gets a
    /// put's event only because the router asks for that range to be closed on demand
    /// (`MergedWatchFeed` → `ClusterAccess.demandClose` → the node's closer). With
    /// `closeOnDemand` off the event waits for the tick (it does not arrive here).
    @Test(arguments: [true, false])
    func aWatchSpanningRangesGetsEventsByClosingTheOthersOnDemand(closeOnDemand: Bool) async throws {
        let c = try AccessCluster(ranges: 2) {
            $0.closeIntervalMs = 3_600_000
            $0.closeOnDemand = closeOnDemand
        }
        defer { c.shutdown() }
        let ranges = c.bootstrap.descriptors
        #expect(await c.everyRangeHasALeader())
        let idle = ranges[1]
        // A node that does not lead the idle range: its close goes to the leader.
        let node = try #require(c.hosts.keys.sorted().first { $0 != c.leader(of: idle.rangeID) })
        let router = Router(access: c.access[node]!, config: Router.Config())
        let start = try await router.currentRevision() + 1
        let feed = try await router.watch(WatchSpec(key: [0], rangeEnd: [0], startRevision: start))
        let written = ranges[0]
        let k = (written.startKey.isEmpty ? [0x01] : written.startKey) + Array("k".utf8)
        let put = try await router.put(PutRequest(key: k, value: [1]))
        let consumer = Task { try await RouterWatchTests.collect(feed, until: put.revision) }
        let timer = Task {
            try? await Task.sleep(for: .seconds(closeOnDemand ? 20 : 1))
            consumer.cancel()
        }
        defer { timer.cancel() }
        let got = await consumer.result
        if closeOnDemand {
            let (events, _) = try got.get()
            #expect(events.map(\.kv.modRevision) == [put.revision] && events.first?.kv.key == k)
            #expect(c.hosts[node]!.closeRoundsOnDemand >= 1)
        } else {
            if case .success(let (events, synced)) = got {
                #expect(events.isEmpty && (synced.last ?? 0) < put.revision, "released before the tick: \(events)")
            }
            #expect(c.hosts[node]!.closeRoundsOnDemand == 0)
        }
    }

    /// A randomized watch over every range against the model of acknowledged writes, with the
    /// closer set to once an hour so that every release of an event past ranges without
    /// writes rests on closes on demand: every put and delete once, in revision order, whole
    /// revisions, and the watch catches up with the last write. The seed is printed.
    @Test func aWatchOverEveryRangeMatchesTheModelWithClosesOnDemandOnly() async throws {
        let seed = UInt64.random(in: 0..<1_000_000)
        var rng = SeededGenerator(seed: seed)
        let c = try AccessCluster(ranges: 3) { $0.closeIntervalMs = 3_600_000 }
        defer { c.shutdown() }
        let ranges = c.bootstrap.descriptors
        #expect(await c.everyRangeHasALeader())
        let nodes = c.hosts.keys.sorted()
        let watcher = Router(access: c.access[nodes[Int.random(in: 0..<nodes.count, using: &rng)]]!, config: Router.Config())
        let writers = nodes.map { Router(access: c.access[$0]!, config: Router.Config()) }
        let start = try await watcher.currentRevision() + 1
        let feed = try await watcher.watch(WatchSpec(key: [0], rangeEnd: [0], startRevision: start))
        // Consumed while the writes go on; the test polls what arrived (no target race).
        let got = Mutex<(events: [WatchEvent], synced: [Int64])>(([], []))
        let consumer = Task {
            for try await item in feed {
                switch item {
                case .events(let e, let synced): got.withLock { $0.events += e; $0.synced.append(synced) }
                case .progress(let synced): got.withLock { $0.synced.append(synced) }
                case .compacted: Issue.record("seed \(seed): unexpected compaction")
                }
            }
        }
        defer { consumer.cancel() }
        var acked: [(key: [UInt8], revision: Int64, put: Bool)] = []
        let keys = (0..<12).map { _ in [UInt8.random(in: 1...255, using: &rng), 0x6B] }
        for i in 0..<Int.random(in: 20...40, using: &rng) {
            let router = writers[Int.random(in: 0..<writers.count, using: &rng)]
            let k = keys[Int.random(in: 0..<keys.count, using: &rng)]
            if Int.random(in: 0..<5, using: &rng) == 0 {
                let r = try await router.deleteRange(DeleteRangeRequest(key: k))
                if r.deleted > 0 { acked.append((k, r.revision, false)) }
            } else {
                let r = try await router.put(PutRequest(key: k, value: Array("v\(i)".utf8)))
                acked.append((k, r.revision, true))
            }
            if Bool.random(using: &rng) { try await Task.sleep(for: .milliseconds(Int.random(in: 0...20, using: &rng))) }
        }
        let last = try #require(acked.last?.revision)
        let deadline = ContinuousClock.now + .seconds(30)
        while (got.withLock { $0.synced.last ?? 0 }) < last && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        consumer.cancel()
        let (events, synced) = got.withLock { $0 }
        RouterWatchTests.check(events, acked.sorted { $0.revision < $1.revision }, synced: synced, seed: seed)
        #expect((synced.last ?? 0) >= last, "seed \(seed): the watch caught up with the last write")
    }

    /// Single-key watches sharing one hub: every watcher gets exactly its key's events, once
    /// and in order, while writes of unwatched keys of the same range are applied in between.
    /// The seed is printed.
    @Test func singleKeyWatchesGetExactlyTheirEvents() async throws {
        let seed = UInt64.random(in: 0..<1_000_000)
        var rng = SeededGenerator(seed: seed)
        let c = try AccessCluster(ranges: 1)
        defer { c.shutdown() }
        let range = c.bootstrap.descriptors[0]
        #expect(await c.eventually { c.leader(of: range.rangeID) != nil })
        let nodes = c.hosts.keys.sorted()
        let router = Router(access: c.access[nodes[Int.random(in: 0..<nodes.count, using: &rng)]]!, config: Router.Config())
        let writer = Router(access: c.access[nodes[Int.random(in: 0..<nodes.count, using: &rng)]]!, config: Router.Config())
        let keys = (0..<6).map { Array("key-\($0)".utf8) }
        let watched = Array(keys.prefix(3))
        let start = try await router.currentRevision() + 1
        var feeds: [WatchEventStream] = []
        for k in watched { feeds.append(try await router.watch(WatchSpec(key: k, startRevision: start))) }
        var acked: [(key: [UInt8], revision: Int64, put: Bool)] = []
        for i in 0..<Int.random(in: 20...40, using: &rng) {
            let k = keys[Int.random(in: 0..<keys.count, using: &rng)]
            let r = try await writer.put(PutRequest(key: k, value: Array("v\(i)".utf8)))
            acked.append((k, r.revision, true))
        }
        let last = try #require(acked.last?.revision)
        for (k, feed) in zip(watched, feeds) {
            let mine = acked.filter { $0.key == k }
            let consumer = Task { try await RouterWatchTests.collect(feed, until: last) }
            let timer = Task {
                try? await Task.sleep(for: .seconds(30))
                consumer.cancel()
            }
            let (events, synced) = try await consumer.value
            timer.cancel()
            RouterWatchTests.check(events, mine, synced: synced, seed: seed)
        }
    }
}
