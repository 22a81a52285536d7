import Base
import Foundation
import MVCC
import Node
import Synchronization
import Testing

extension NodeClusterTests {
    /// The revision oracle on a 3-node in-process cluster: batching, strict order across
    /// leader transfers and node kills/restarts (seeded), and the system range's state
    /// staying out of the user ranges.
    @Suite struct OracleClusterTests {
        @Test func servesIncreasingRevisionsFromOneBlockAndOnlyOnTheLeader() async throws {
            let c = try TestCluster(ranges: 2)
            defer { c.shutdown() }
            let leader = try #require(await c.systemLeader())
            let host = c.hosts[leader]!
            var last: Int64 = 0
            for n in 1...50 {
                let r = try await host.oracleRevisions(count: n % 5 + 1)
                #expect(r.lowerBound > last && r.count == n % 5 + 1, "\(r) after \(last)")
                last = r.upperBound
            }
            // 300 concurrent callers: distinct revisions, all above what came before.
            let got = try await withThrowingTaskGroup(of: Int64.self) { group in
                for _ in 0..<300 { group.addTask { try await host.oracleRevisions(count: 1).lowerBound } }
                var all: [Int64] = []
                for try await r in group { all.append(r) }
                return all
            }
            #expect(Set(got).count == 300 && got.allSatisfy { $0 > last })
            let after = try await host.oracleRevisions(count: 1)
            #expect(after.lowerBound > got.max()!)
            // One Raft round per block, not per call: ~450 revisions fit the first block.
            let systemWrites = host.store(for: .system)!.currentRevision
            #expect(systemWrites >= 1 && systemWrites <= 2, "system range writes: \(systemWrites)")
            // Elsewhere: not the leader, with a hint.
            for n in c.hosts.keys where n != leader {
                await #expect(throws: ProposalError.notLeader(leaderHint: leader)) {
                    try await c.hosts[n]!.oracleRevisions(count: 1)
                }
            }
            // The system range is range 1 on every node; its records stay out of the user buckets.
            for h in c.hosts.values {
                #expect(h.view(of: .system) != nil && !h.rangeIDs.contains(.system))
                for r in c.rangeIDs { #expect(h.store(for: r)!.indexedKeyCount == 0) }
            }
            #expect(c.bootstrap.descriptors.allSatisfy { $0.rangeID != .system })
        }

        /// Workers call the oracle continuously while leadership of the system range moves
        /// and nodes are killed (with or without their final commit) and restarted, finally
        /// the whole cluster at once. Checks the oracle's promise over the full history.
        @Test func strictlyIncreasingAcrossTransfersAndRestarts() async throws {
            let seed = UInt64(ProcessInfo.processInfo.environment["FLOTILLA_SEED"] ?? "") ?? UInt64.random(in: 1...1_000_000)
            var rng = SeededGenerator(seed: seed)
            let c = try TestCluster(ranges: 1)
            defer { c.shutdown() }
            let live = LiveHosts()
            live.refresh(c)
            let history = OracleHistory()
            #expect(await c.systemLeader() != nil, "seed \(seed)")
            let workers = Task {
                await withTaskGroup(of: Void.self) { group in
                    for w in 0..<4 {
                        group.addTask {
                            var count = w * 37 + 1
                            while !history.stopped.load(ordering: .relaxed) {
                                count = count * 31 % 997 + 1
                                guard let host = live.systemLeaderOrAny() else { continue }
                                let start = OracleCheck.nowNs()
                                do {
                                    let r = try await host.oracleRevisions(count: count)
                                    history.record(OracleCallRecord(startNs: start, endNs: OracleCheck.nowNs(), revisions: r, node: host.nodeID))
                                } catch {
                                    try? await Task.sleep(for: .milliseconds(10))
                                }
                            }
                        }
                    }
                }
            }
            func served() -> Int { history.count }
            func waitForProgress() async {
                let before = served()
                _ = await c.eventually(20) { served() >= before + 20 }
            }
            await waitForProgress()
            for round in 0..<6 {
                let nodes = c.bootstrap.nodes
                if round % 2 == 0, let leader = c.leader(of: .system) {
                    let target = nodes.filter { $0 != leader }.randomElement(using: &rng)!
                    c.hosts[leader]!.transferLeadership(of: .system, to: target)
                    _ = await c.eventually(10) { c.leader(of: .system) == target }
                } else {
                    let victim = c.leader(of: .system) ?? nodes.randomElement(using: &rng)!
                    let flush = Bool.random(using: &rng)
                    c.stop(victim, flush: flush)
                    live.refresh(c)
                    await waitForProgress()
                    try c.start(victim)
                    live.refresh(c)
                }
                await waitForProgress()
            }
            // The whole cluster down without final commits, then up: the persisted mark holds.
            for n in c.bootstrap.nodes { c.stop(n, flush: false) }
            live.refresh(c)
            for n in c.bootstrap.nodes { try c.start(n) }
            live.refresh(c)
            await waitForProgress()
            history.stopped.store(true, ordering: .relaxed)
            await workers.value
            let all = history.all
            #expect(all.count >= 100, "seed \(seed): only \(all.count) oracle calls succeeded")
            let servers = Set(all.map(\.node))
            #expect(servers.count >= 2, "seed \(seed): only \(servers) served; leadership never moved")
            let problem = OracleCheck.violation(in: all)
            #expect(problem == nil, "seed \(seed): \(problem ?? "")")
        }
    
        /// The leader is cut off while callers keep asking it and, once elected, the new
        /// leader: the deposed leader must not hand out anything below what the new one
        /// already handed out (it confirms its term with a quorum for every batch).
        @Test func partitionedLeaderServesNothingStale() async throws {
            // Node 1 (the system range's first leader) notices its lost quorum only after
            // 60 ticks (3 s), long after the others elect a new leader (0.5-1 s): a window
            // in which it still believes it leads. No oracle lease on it: a lease assumes every
            // node has the same election timeout (OracleLeaseTests cover the lease).
            let c = try TestCluster(ranges: 1) { cfg in
                if cfg.nodeID == NodeID(1) {
                    cfg.electionTicks = 60
                    cfg.oracleLease = false
                }
            }
            defer { c.shutdown() }
            let old = try #require(await c.systemLeader())  // node 1 campaigns first; any leader keeps the check valid
            _ = try await c.hosts[old]!.oracleRevisions(count: 1)  // the old leader holds a block
            let (moved, problem) = try await OracleCheck.partitionAndFetch(c, old: old) { host in
                try await host.oracleRevisions(count: 1)
            }
            #expect(moved, "no new leader served")
            #expect(problem == nil, "\(problem ?? "")")
        }
    
        /// Leadership goes A → B → A: A's block of its first term must not be served again.
        @Test func leaderRoundTripDropsTheOldBlock() async throws {
            let c = try TestCluster(ranges: 1)
            defer { c.shutdown() }
            let a = try #require(await c.systemLeader())
            let b = c.bootstrap.nodes.first { $0 != a }!
            let fromA = try await c.hosts[a]!.oracleRevisions(count: 1)
            c.hosts[a]!.transferLeadership(of: .system, to: b)
            #expect(await c.eventually(10) { c.leader(of: .system) == b })
            let fromB = try await c.hosts[b]!.oracleRevisions(count: 1)
            c.hosts[b]!.transferLeadership(of: .system, to: a)
            #expect(await c.eventually(10) { c.leader(of: .system) == a })
            let again = try await c.hosts[a]!.oracleRevisions(count: 1)
            #expect(fromA.upperBound < fromB.lowerBound && fromB.upperBound < again.lowerBound, "\(fromA) \(fromB) \(again)")
        }
    }
}
