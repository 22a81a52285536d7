import Base
import Foundation
import MVCC
import Node
import Testing

extension NodeClusterTests {
    /// Repeatedly stops a node without its final MVCC commit (what kill -9 leaves behind, short
    /// of torn writes) while writes continue, restarts it, and checks that every acknowledged
    /// write is on every node. Seeded; the seed is in every failure message.
    @Suite struct CrashLoopTests {
        @Test func acknowledgedWritesSurviveRepeatedCrashes() async throws {
            let seed = UInt64(ProcessInfo.processInfo.environment["FLOTILLA_SEED"] ?? "") ?? UInt64.random(in: 1...1_000_000)
            var rng = SeededGenerator(seed: seed)
            let c = try TestCluster(ranges: 4) { cfg in
                cfg.walSegmentBytes = 32 << 10
                cfg.walGCIntervalMs = 50
            }
            defer { c.shutdown() }
            var acked: [[UInt8]: [UInt8]] = [:]
            var counter = 0
            func writeSome(_ n: Int, _ rng: inout SeededGenerator) async throws {
                for _ in 0..<n {
                    counter += 1
                    let key = c.key(range: Int.random(in: 0..<4, using: &rng), "c\(counter)")
                    let value = Array("v\(counter)".utf8)
                    _ = try await c.put(key, value)
                    acked[key] = value
                }
            }
            try await writeSome(10, &rng)
            for round in 0..<4 {
                // Prefer the node holding most leaders every other round.
                var victim = NodeID(UInt64.random(in: 1...3, using: &rng))
                if round % 2 == 1 {
                    var count: [NodeID: Int] = [:]
                    for r in c.rangeIDs { if let l = c.leader(of: r) { count[l, default: 0] += 1 } }
                    victim = count.max { $0.value < $1.value }?.key ?? victim
                }
                c.stop(victim, flush: false)
                try await writeSome(15, &rng)
                try c.start(victim)
                try await writeSome(5, &rng)
            }
            for n in c.hosts.keys {
                let ok = await c.eventually { acked.allSatisfy { c.value(on: n, $0.key) == $0.value } }
                let missing = acked.filter { c.value(on: n, $0.key) != $0.value }.count
                #expect(ok, "seed \(seed): node \(n) misses \(missing) of \(acked.count) acknowledged writes")
            }
            // Replicas agree on each range's revision.
            for r in c.rangeIDs {
                let revisions = Set(c.hosts.values.compactMap { $0.store(for: r)?.currentRevision })
                #expect(revisions.count == 1, "seed \(seed): range \(r) revisions \(revisions)")
            }
        }

        @Test func proposalWithoutQuorumTimesOut() async throws {
            let c = try TestCluster(ranges: 1) { cfg in
                cfg.proposalTimeoutMs = 300
                cfg.electionTicks = 60  // the isolated leader keeps its role past the 300 ms timeout
            }
            defer { c.shutdown() }
            let range = c.rangeIDs[0]
            #expect(await c.eventually { c.leader(of: range) != nil })
            let leader = c.leader(of: range)!
            for n in c.hosts.keys where n != leader { c.network.partition(leader, n) }
            await #expect(throws: ProposalError.timeout) {
                try await c.hosts[leader]!.propose(.put(PutRequest(key: [1], value: [1])), to: range)
            }
        }
    }
}
