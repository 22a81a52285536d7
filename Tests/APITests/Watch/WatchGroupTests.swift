import API
import Base
import Foundation
import GRPCCore
import GRPCInProcessTransport
import MVCC
import Proto
import Testing

/// Watchers of the same key on one stream share one backend feed (`WatchSession+Groups`):
/// still, each reports exactly the writes after its own created revision (or from its start
/// revision), with its own filters, and nothing after its cancel.
@Suite struct WatchGroupTests {
    static func withCountingEtcd(_ body: @Sendable @escaping (EtcdClients, CountingWatch) async throws -> Void) async throws {
        let store = try SingleStoreBackend.inMemory()
        let watch = CountingWatch(store)
        let transport = InProcessTransport()
        let services = EtcdServer.services(kv: store, watch: watch, lease: store, cluster: store, maintenance: store)
        try await withGRPCServer(transport: transport.server, services: services) { _ in
            try await withGRPCClient(transport: transport.client) { client in
                try await body(EtcdClients(client), watch)
            }
        }
    }

    /// Collects responses until every watcher in `expected` has at least as many events, then
    /// a short silence (nothing extra).
    static func collect(_ w: WatchDriver, expected: [Int64: Int]) async -> [Int64: [Int64]] {
        var got: [Int64: [Int64]] = [:]
        func done() -> Bool { expected.allSatisfy { got[$0.key, default: []].count >= $0.value } }
        while !done(), let r = await w.next(timeout: .seconds(120)) {
            got[r.watchID, default: []] += r.events.map(\.kv.modRevision)
        }
        while let r = await w.next(timeout: .milliseconds(200)) {
            got[r.watchID, default: []] += r.events.map(\.kv.modRevision)
        }
        return got
    }

    /// Reads responses until the next `created` (returned), adding the events of the others
    /// to `got` (other watchers' events interleave with creations).
    static func created(_ w: WatchDriver, into got: inout [Int64: [Int64]]) async -> Etcdserverpb_WatchResponse? {
        while let r = await w.next(timeout: .seconds(120)) {
            if r.created { return r }
            got[r.watchID, default: []] += r.events.map(\.kv.modRevision)
        }
        return nil
    }

    @Test(arguments: [UInt64(3), 4])
    func sameKeyWatchersShareOneFeedAndEachReportsFromItsCreation(seed: UInt64) async throws {
        try await Self.withCountingEtcd { c, watch in
            try await withWatchStream(c) { w in
                var rng = SeededGenerator(seed: seed)
                var created: [Int64: Int64] = [:]  // watch ID → created revision
                var writes: [(key: String, revision: Int64)] = []
                var early: [Int64: [Int64]] = [:]  // events received while waiting for a creation
                // Watchers of "g" created between writes to "g" and "h", then a NOPUT one of "g".
                for round in 0..<4 {
                    w.create("g")
                    let r = try #require(await Self.created(w, into: &early), "seed \(seed)")
                    created[r.watchID] = r.header.revision
                    for _ in 0..<Int.random(in: 1...3, using: &rng) {
                        let key = Bool.random(using: &rng) ? "g" : "h"
                        writes.append((key, try await c.kv.put(putRequest(key, "\(round)")).header.revision))
                    }
                }
                w.create("g", filters: [.noput])
                let noPut = try #require(await Self.created(w, into: &early), "seed \(seed)")
                for _ in 0..<3 { writes.append(("g", try await c.kv.put(putRequest("g", "late")).header.revision)) }
                var d = Etcdserverpb_DeleteRangeRequest()
                d.key = Data("g")
                let deleted = try await c.kv.deleteRange(d).header.revision
                writes.append(("g", deleted))
                var expected: [Int64: [Int64]] = [:]
                for (id, rev) in created { expected[id] = writes.filter { $0.key == "g" && $0.revision > rev }.map(\.revision) }
                expected[noPut.watchID] = [deleted]
                var need: [Int64: Int] = [:]
                for (id, revisions) in expected { need[id] = revisions.count - early[id, default: []].count }
                var got = await Self.collect(w, expected: need)
                for (id, revisions) in early { got[id] = revisions + got[id, default: []] }
                for (id, revisions) in expected {
                    #expect(got[id, default: []] == revisions, "seed \(seed): watcher \(id)")
                }
                // The NOPUT watcher joined the open group too (filters are per watcher).
                #expect(watch.opened.withLock { $0 } == 1, "seed \(seed): \(watch.opened.withLock { $0 }) feeds for 5 watchers of g")
            }
        }
    }

    @Test func aWatcherFromAnOlderRevisionGetsAFeedOfItsOwnAndTheGroupGoesOn() async throws {
        try await Self.withCountingEtcd { c, watch in
            try await withWatchStream(c) { w in
                let r1 = try await c.kv.put(putRequest("g", "1")).header.revision
                w.create("g")
                let a = try #require(await w.next())
                let r2 = try await c.kv.put(putRequest("g", "2")).header.revision
                #expect(await w.next()?.events.map(\.kv.modRevision) == [r2])
                w.create("g", start: r1)  // the group handed out r2 already: it cannot join
                let b = try #require(await w.next())
                let r3 = try await c.kv.put(putRequest("g", "3")).header.revision
                let got = await Self.collect(w, expected: [a.watchID: 1, b.watchID: 3])
                #expect(got[a.watchID] == [r3])
                #expect(got[b.watchID] == [r1, r2, r3])
                #expect(watch.opened.withLock { $0 } == 2)
                // A watcher from now joins the newest open group (b's).
                w.create("g")
                let c3 = try #require(await w.next())
                let r4 = try await c.kv.put(putRequest("g", "4")).header.revision
                let more = await Self.collect(w, expected: [a.watchID: 1, b.watchID: 1, c3.watchID: 1])
                #expect(more[a.watchID] == [r4] && more[b.watchID] == [r4] && more[c3.watchID] == [r4])
                #expect(watch.opened.withLock { $0 } == 2)
            }
        }
    }

    @Test func aCanceledMemberGetsNothingAfterItsCancelAndTheOthersGoOn() async throws {
        try await Self.withCountingEtcd { c, _ in
            try await withWatchStream(c) { w in
                var ids: [Int64] = []
                for _ in 0..<3 {
                    w.create("g")
                    ids.append(try #require(await w.next()).watchID)
                }
                // Writes race with the cancel of the first member.
                let writer = Task {
                    var revisions: [Int64] = []
                    for i in 0..<20 { revisions.append(try await c.kv.put(putRequest("g", "\(i)")).header.revision) }
                    return revisions
                }
                try await Task.sleep(for: .milliseconds(5))
                w.cancel(ids[0])
                let revisions = try await writer.value
                var canceledSeen = false
                var afterCancel = 0
                var got: [Int64: [Int64]] = [:]
                while got[ids[1], default: []].count < 20 || got[ids[2], default: []].count < 20 || !canceledSeen,
                      let r = await w.next(timeout: .seconds(120)) {
                    if r.canceled && r.watchID == ids[0] { canceledSeen = true }
                    if canceledSeen && r.watchID == ids[0] && !r.events.isEmpty { afterCancel += 1 }
                    got[r.watchID, default: []] += r.events.map(\.kv.modRevision)
                }
                #expect(canceledSeen)
                #expect(afterCancel == 0, "events for a canceled watcher after its cancel")
                #expect(got[ids[1]] == revisions && got[ids[2]] == revisions)
                // The first member's events stop at its cancel: a prefix of the writes.
                #expect(revisions.starts(with: got[ids[0], default: []]))
            }
        }
    }
}
