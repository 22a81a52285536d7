import API
import Base
import Foundation
import GRPCCore
import MVCC
import Proto
import Testing

/// etcd's watch guarantees under concurrent writers, seeded: every acknowledged write is
/// delivered exactly once, in revision order, a revision never split across responses; a
/// watch resumed from a bookmark (last revision + 1) continues without loss or duplicates.
@Suite struct WatchGuaranteeTests {
    @Test(arguments: [1, 2, 3] as [UInt64])
    func concurrentWritersEveryEventOnceInOrder(seed: UInt64) async throws {
        let backend = try SingleStoreBackend.inMemory()
        var limits = EtcdLimits()
        limits.watchResponsesBuffered = 4
        try await withEtcd(backend, limits: limits) { c in
            try await withWatchStream(c) { w in
                w.create("g/", end: "g0", start: 2)
                w.create("g/", end: "g0", start: 2, prevKV: true)
                #expect(await w.next()?.created == true, "seed \(seed)")
                #expect(await w.next()?.created == true, "seed \(seed)")
                // Four writers, 50 ops each: puts, deletes and two-key txns over 8 keys.
                let acked = try await withThrowingTaskGroup(of: [Int64].self) { group in
                    for writer in 0..<4 {
                        group.addTask {
                            var rng = SeededGenerator(seed: seed &* 31 &+ UInt64(writer))
                            var revisions: [Int64] = []
                            for _ in 0..<50 {
                                let key = "g/\(Int.random(in: 0..<8, using: &rng))"
                                switch Int.random(in: 0..<3, using: &rng) {
                                case 0:
                                    revisions.append(try await c.kv.put(putRequest(key, "w\(writer)")).header.revision)
                                case 1:
                                    _ = try await c.kv.put(putRequest(key, "pre"))
                                    var d = Etcdserverpb_DeleteRangeRequest()
                                    d.key = Data(key)
                                    let deleted = try await c.kv.deleteRange(d)
                                    // A delete that found nothing (another writer deleted the key
                                    // first) has no event.
                                    if deleted.deleted > 0 { revisions.append(deleted.header.revision) }
                                default:
                                    var t = Etcdserverpb_TxnRequest()
                                    var a = Etcdserverpb_RequestOp()
                                    a.requestPut = putRequest(key, "t1")
                                    var b = Etcdserverpb_RequestOp()
                                    b.requestPut = putRequest(key + "x", "t2")
                                    t.success = [a, b]
                                    revisions.append(try await c.kv.txn(t).header.revision)
                                }
                            }
                            return revisions
                        }
                    }
                    var all: [Int64] = []
                    for try await r in group { all += r }
                    return all
                }
                let last = try await c.kv.range(rangeRequest("g/")).header.revision
                var perWatcher: [Int64: [Mvccpb_Event]] = [0: [], 1: []]
                while perWatcher.values.contains(where: { ($0.last?.kv.modRevision ?? 0) < last }),
                    let r = await w.next(timeout: .seconds(120))
                {
                    perWatcher[r.watchID, default: []] += r.events
                    // A revision is never split: all events of a response's last revision
                    // are in that response (txns here write two keys at one revision).
                    let revs = r.events.map(\.kv.modRevision)
                    #expect(revs == revs.sorted(), "seed \(seed)")
                }
                for (id, events) in perWatcher {
                    let order = events.map { $0.kv.modRevision }
                    #expect(order == order.sorted(), "seed \(seed) watcher \(id): out of order")
                    let pairs = events.map { "\($0.kv.modRevision)/\(String(decoding: $0.kv.key, as: UTF8.self))" }
                    #expect(Set(pairs).count == pairs.count, "seed \(seed) watcher \(id): duplicate event")
                    let delivered = Set(order)
                    let missing = acked.filter { !delivered.contains($0) }
                    #expect(missing.isEmpty, "seed \(seed) watcher \(id): missing revisions \(missing)")
                    let txnRevs = Dictionary(grouping: events, by: \.kv.modRevision).filter { $0.value.count == 2 }
                    #expect(txnRevs.allSatisfy { $0.value.map(\.type) == [.put, .put] }, "seed \(seed)")
                }
                // Resume from a bookmark: a new watch from (revision of the 100th event) + 1
                // delivers exactly the rest.
                let events = perWatcher[0]!
                let cut = events[min(100, events.count - 1)].kv.modRevision
                let rest = events.filter { $0.kv.modRevision > cut }
                w.create("g/", end: "g0", start: cut + 1)
                let created = await w.next()
                #expect(created?.created == true)
                var resumed: [Mvccpb_Event] = []
                while resumed.count < rest.count, let r = await w.next(timeout: .seconds(120)) { resumed += r.events }
                #expect(resumed.map(\.kv.modRevision) == rest.map(\.kv.modRevision), "seed \(seed): resume differs")
            }
        }
    }
}
