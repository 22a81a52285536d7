import API
import Base
import MVCC
import Node
import Router
import Synchronization
import Testing

/// Concurrent clients on one router while faults and splits happen: every acknowledged
/// write is readable, and a watch from before the writes delivers each exactly once in
/// revision order.
@Suite struct RouterConcurrencyTests {
    @Test(arguments: [UInt64(51), 52])
    func concurrentWritersWithFaultsAndSplits(seed: UInt64) async throws {
        let (router, cluster) = try makeRouter()
        let start = try await router.currentRevision() + 1
        let feed = try await router.watch(WatchSpec(key: [0], rangeEnd: [0], startRevision: start))
        let writers = 4
        let perWriter = 40
        let acked = try await withThrowingTaskGroup(of: [(key: [UInt8], revision: Int64)].self) { group in
            for w in 0..<writers {
                group.addTask {
                    var out: [(key: [UInt8], revision: Int64)] = []
                    for i in 0..<perWriter {
                        let k = bytes("k\(w)\(i < 10 ? "0" : "")\(i)")
                        let r = try await router.put(PutRequest(key: k, value: bytes("w\(w)i\(i)")))
                        out.append((k, r.revision))
                    }
                    return out
                }
            }
            group.addTask {
                var rng = SeededGenerator(seed: seed)
                for step in 0..<30 {
                    let k = key(Int.random(in: 0..<40, using: &rng))
                    let faults: [FakeCluster.Fault] = [.notLeader(hint: nil), .epochMismatch, .timeoutBeforeApply,
                                                       .timeoutAfterApply, .dropped]
                    cluster.inject(faults[Int.random(in: 0..<faults.count, using: &rng)], into: cluster.rangeID(of: k))
                    if step % 10 == 5 { try cluster.split(at: bytes("k\(Int.random(in: 0..<4, using: &rng))\(Int.random(in: 1..<4, using: &rng))5")) }
                    try await Task.sleep(for: .milliseconds(2))
                }
                return []
            }
            var all: [(key: [UInt8], revision: Int64)] = []
            for try await part in group { all += part }
            return all
        }
        #expect(acked.count == writers * perWriter, "seed \(seed)")
        #expect(Set(acked.map(\.revision)).count == acked.count, "seed \(seed): revisions are unique")
        let all = try await router.range(RangeRequest(key: [0], rangeEnd: [0]))
        #expect(all.kvs.count == acked.count, "seed \(seed)")
        #expect(all.kvs.allSatisfy { $0.version == 1 }, "seed \(seed): every write applied once")
        let last = acked.map(\.revision).max()!
        let (events, _) = try await RouterWatchTests.collect(feed, until: last)
        #expect(events.map(\.kv.modRevision) == acked.map(\.revision).sorted(), "seed \(seed)")
    }
}
