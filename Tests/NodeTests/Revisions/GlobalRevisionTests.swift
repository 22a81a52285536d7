import Base
import Dispatch
import Foundation
import MVCC
import Node
import Testing

extension NodeClusterTests {
    /// One revision order across ranges (DESIGN.md §3): writes take oracle revisions in log
    /// order, reads at R see exactly the writes <= R, and leader changes keep both promises.
    @Suite struct GlobalRevisionTests {
        /// One acknowledged write: when it started and was acknowledged, and its revision.
        struct Acked {
            var startNs: UInt64
            var ackNs: UInt64
            var revision: Int64
            var key: [UInt8]
            var value: [UInt8]
        }

        static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

        /// Runs `writers` concurrent writers, each doing `perWriter` puts of fresh keys in
        /// ranges chosen by a seeded generator; returns every acknowledged write.
        static func writeConcurrently(_ c: TestCluster, seed: UInt64, writers: Int, perWriter: Int,
                                      tag: String = "w") async throws -> [Acked] {
            try await withThrowingTaskGroup(of: [Acked].self) { group in
                for w in 0..<writers {
                    group.addTask {
                        var rng = SeededGenerator(seed: seed &+ UInt64(w))
                        var out: [Acked] = []
                        for i in 0..<perWriter {
                            let rangeIndex = Int(rng.next() % UInt64(c.rangeIDs.count))
                            let key = c.key(range: rangeIndex, "\(tag)-\(w)-\(i)")
                            let value = Array("\(w)/\(i)".utf8)
                            let start = now()
                            let result = try await c.propose(.put(PutRequest(key: key, value: value)),
                                                             range: c.range(of: key), requestID: rng.next())
                            guard case .put(let resp) = result else { throw ProposalError.proposalDropped("not a put") }
                            out.append(Acked(startNs: start, ackNs: now(), revision: resp.revision, key: key, value: value))
                        }
                        return out
                    }
                }
                var all: [Acked] = []
                for try await part in group { all += part }
                return all
            }
        }

        /// Every write's revision is above the revision of every write acknowledged before
        /// it started; revisions are unique. Returns a description of the first violation.
        static func realTimeViolation(_ writes: [Acked]) -> String? {
            if Set(writes.map(\.revision)).count != writes.count { return "duplicate revisions" }
            let byAck = writes.sorted { $0.ackNs < $1.ackNs }
            var prefixMax: [Int64] = []
            var m: Int64 = 0
            for w in byAck {
                m = max(m, w.revision)
                prefixMax.append(m)
            }
            for w in writes {
                // Writes acknowledged strictly before w started.
                var lo = 0
                var hi = byAck.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if byAck[mid].ackNs < w.startNs { lo = mid + 1 } else { hi = mid }
                }
                if lo > 0 && prefixMax[lo - 1] >= w.revision {
                    return "write \(w.key) got \(w.revision) after a write acknowledged at \(prefixMax[lo - 1])"
                }
            }
            return nil
        }

        @Test func revisionsIncreaseAcrossRangesInRealTimeOrder() async throws {
            let seed = UInt64.random(in: 0..<1_000_000)
            let c = try TestCluster(ranges: 4)
            defer { c.shutdown() }
            #expect(await c.eventually { c.rangeIDs.allSatisfy { c.leader(of: $0) != nil } })
            let writes = try await Self.writeConcurrently(c, seed: seed, writers: 8, perWriter: 12)
            #expect(writes.count == 96, "seed \(seed)")
            #expect(Self.realTimeViolation(writes) == nil, "seed \(seed): \(Self.realTimeViolation(writes) ?? "")")
            #expect(writes.allSatisfy { $0.revision <= c.oracle.lastIssued }, "seed \(seed): revisions come from the oracle")
            // Writes span several ranges, so their revisions interleave across ranges.
            #expect(Set(writes.map { c.range(of: $0.key) }).count == 4, "seed \(seed)")
            // Batching: fewer oracle requests than writes.
            #expect(c.oracle.fetches < writes.count, "seed \(seed): \(c.oracle.fetches) oracle fetches for \(writes.count) writes")
        }

        @Test func readAtRevisionSeesExactlyTheWritesAtOrBelowIt() async throws {
            let seed = UInt64.random(in: 0..<1_000_000)
            let c = try TestCluster(ranges: 2)
            defer { c.shutdown() }
            let range = c.rangeIDs[1]
            let prefix = c.key(range: 1, "")
            #expect(await c.eventually { c.leader(of: range) != nil })
            let leader = try #require(c.leader(of: range))
            // Writers on both ranges while read points are taken in the middle.
            async let writes = Self.writeConcurrently(c, seed: seed, writers: 4, perWriter: 10)
            var points: [Int64] = []
            for _ in 0..<5 {
                try await Task.sleep(for: .milliseconds(30))
                points.append(try await c.hosts[leader]!.freshRevision())
            }
            var reads: [(Int64, RangeResponse)] = []
            for r in points {
                let req = RangeRequest(key: prefix, rangeEnd: prefixEnd(prefix), revision: r)
                reads.append((r, try await c.read(at: req, range: range)))
            }
            let acked = try await writes
            for (r, resp) in reads {
                #expect(resp.revision == r, "seed \(seed): header revision is the read point")
                let expected = Set(acked.filter { c.range(of: $0.key) == range && $0.revision <= r }.map { $0.key + [0xFF] + $0.value })
                let seen = Set(resp.kvs.map { $0.key + [0xFF] + $0.value })
                #expect(seen == expected, "seed \(seed): read at \(r) saw \(seen.count) keys, expected \(expected.count)")
            }
            // A point above every write reads everything; the range's last write stays below it.
            let top = try await c.hosts[leader]!.freshRevision()
            let all = try await c.read(at: RangeRequest(key: prefix, rangeEnd: prefixEnd(prefix), revision: top), range: range)
            #expect(all.kvs.count == acked.filter { c.range(of: $0.key) == range }.count, "seed \(seed)")
        }

        @Test func leaderTransferKeepsRevisionsIncreasingAndClosedPromises() async throws {
            let seed = UInt64.random(in: 0..<1_000_000)
            let c = try TestCluster(ranges: 2)
            defer { c.shutdown() }
            let range = c.rangeIDs[0]
            let prefix = c.key(range: 0, "")
            #expect(await c.eventually { c.leader(of: range) != nil })
            let first = try #require(c.leader(of: range))
            let before = try await Self.writeConcurrently(c, seed: seed, writers: 2, perWriter: 5, tag: "a")
            // Close the range at R on the first leader.
            let r = try await c.hosts[first]!.freshRevision()
            let atR = try await c.read(at: RangeRequest(key: prefix, rangeEnd: prefixEnd(prefix), revision: r), range: range)
            // Move leadership while writers run.
            let target = c.hosts.keys.sorted().first { $0 != first }!
            async let during = Self.writeConcurrently(c, seed: seed &+ 100, writers: 3, perWriter: 8, tag: "b")
            try await Task.sleep(for: .milliseconds(50))
            c.hosts[first]!.transferLeadership(of: range, to: target)
            #expect(await c.eventually { c.leader(of: range) == target }, "seed \(seed): leadership moved")
            let moved = try await during
            let after = try await Self.writeConcurrently(c, seed: seed &+ 200, writers: 2, perWriter: 5, tag: "c")
            let all = before + moved + after
            #expect(Self.realTimeViolation(all) == nil, "seed \(seed): \(Self.realTimeViolation(all) ?? "")")
            // The close at R holds across the change: the new leader's read at R is the same.
            let again = try await c.read(at: RangeRequest(key: prefix, rangeEnd: prefixEnd(prefix), revision: r), range: range)
            #expect(again.kvs == atR.kvs, "seed \(seed): state at \(r) changed after the transfer")
            let atOrBelowR = all.filter { c.range(of: $0.key) == range && $0.revision <= r }
            #expect(atOrBelowR.allSatisfy { w in atR.kvs.contains { $0.key == w.key } },
                    "seed \(seed): every write <= R is visible at R")
        }

        @Test func applyRefusesAStaleRevisionAndTheProposerRetries() async throws {
            // Node 1 gets one stale block from its oracle: the write it leads applies at a
            // revision below the range's last one, is refused on every replica, and is
            // proposed again with a fresh revision.
            let shared = InMemoryRevisionOracle()
            let stale = StaleOnceOracle(shared)
            let c = try TestCluster(ranges: 1) { config in
                config.revisionSource = config.nodeID == NodeID(1) ? (stale as any RevisionSource) : shared
            }
            defer { c.shutdown() }
            let range = c.rangeIDs[0]
            #expect(await c.eventually { c.leader(of: range) != nil })
            // Raise the range's revision through another leader first.
            let other = c.hosts.keys.sorted().first { $0 != NodeID(1) }!
            if c.leader(of: range) == NodeID(1) {
                c.hosts[NodeID(1)]!.transferLeadership(of: range, to: other)
                #expect(await c.eventually { c.leader(of: range) == other })
            }
            _ = try await shared.revisions(count: 50)
            let high = try await c.put(c.key(range: 0, "high"), [1])
            #expect(high.revision > 50)
            let via = try #require(c.leader(of: range))
            c.hosts[via]!.transferLeadership(of: range, to: NodeID(1))
            #expect(await c.eventually { c.leader(of: range) == NodeID(1) })
            let retried = try await c.hosts[NodeID(1)]!.propose(.put(PutRequest(key: c.key(range: 0, "low"), value: [2])), to: range)
            guard case .put(let resp) = retried else { Issue.record("not a put"); return }
            #expect(resp.revision > high.revision, "the retry took a fresh revision")
            #expect(stale.staleHandedOut, "the stale block was used")
            #expect(await c.eventually { c.hosts[NodeID(1)]!.metrics.revisionRetries >= 1 })
        }
    }
}

extension NodeClusterTests.GlobalRevisionTests {
    @Test func aRevisionFetchedBeforeACloseIsNotUsedAfterIt() async throws {
        // Node 1 leads the range and its oracle answers late: its write's revision X is
        // handed out, then node 2 takes R > X and the range is read (closed) at R before X
        // reaches node 1. X <= R must be discarded: the write gets a fresh revision above R,
        // and reads at R stay the same.
        let shared = InMemoryRevisionOracle()
        let slow = DelayedOracle(shared, delayMs: 400)
        let c = try TestCluster(ranges: 1) { config in
            config.revisionSource = config.nodeID == NodeID(1) ? (slow as any RevisionSource) : shared
        }
        defer { c.shutdown() }
        let range = c.rangeIDs[0]
        #expect(await c.eventually { c.leader(of: range) == NodeID(1) }, "the bootstrap leader")
        let key = c.key(range: 0, "late")
        let leader = c.hosts[NodeID(1)]!
        async let write = leader.propose(.put(PutRequest(key: key, value: [1])), to: range)
        #expect(await c.eventually(5) { shared.lastIssued >= 1 }, "the write's revision was handed out")
        let x = shared.lastIssued
        let r = try await c.hosts[NodeID(2)]!.freshRevision()
        #expect(r > x)
        let before = try await leader.read(at: RangeRequest(key: key, revision: r), in: range, epoch: nil)
        #expect(before.kvs.isEmpty && before.revision == r, "the write is not applied yet")
        guard case .put(let put) = try await write else { Issue.record("not a put"); return }
        #expect(put.revision > r, "the write took a revision above the closed one: \(put.revision) vs \(r)")
        let after = try await leader.read(at: RangeRequest(key: key, revision: r), in: range, epoch: nil)
        #expect(after.kvs.isEmpty, "the state at \(r) did not change")
        #expect(await c.eventually { leader.metrics.revisionsDiscarded >= 1 })
    }
}

/// Answers from `base`, but only `delayMs` after the block was handed out.
struct DelayedOracle: RevisionSource {
    let base: InMemoryRevisionOracle
    let delayMs: Int

    init(_ base: InMemoryRevisionOracle, delayMs: Int) {
        self.base = base
        self.delayMs = delayMs
    }

    func revisions(count: Int) async throws(ProposalError) -> ClosedRange<Int64> {
        let block = try await base.revisions(count: count)
        try? await Task.sleep(for: .milliseconds(delayMs))
        return block
    }
}

/// The first answer is a stale block (1...count); later ones come from `base`.
final class StaleOnceOracle: RevisionSource, @unchecked Sendable {
    // @unchecked Sendable: `handedOut` is only touched under `lock`.
    let base: InMemoryRevisionOracle
    let lock = NSLock()
    var handedOut = false

    init(_ base: InMemoryRevisionOracle) { self.base = base }

    var staleHandedOut: Bool { lock.withLock { handedOut } }

    func revisions(count: Int) async throws(ProposalError) -> ClosedRange<Int64> {
        let first = lock.withLock { () -> Bool in
            defer { handedOut = true }
            return !handedOut
        }
        if first { return 1...Int64(count) }
        return try await base.revisions(count: count)
    }
}

/// The end of the prefix range starting at `p` (etcd's prefix end).
func prefixEnd(_ p: [UInt8]) -> [UInt8] {
    var e = p
    while let last = e.last {
        if last < 0xFF {
            e[e.count - 1] = last + 1
            return e
        }
        e.removeLast()
    }
    return [0]
}
