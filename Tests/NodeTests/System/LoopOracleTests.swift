import Base
import Foundation
import MVCC
@testable import Node
import Synchronization
import Testing

extension NodeClusterTests {
    /// The oracle served inside the poll loop (session 11, `NodeHost+LoopOracle`): with no
    /// configured revision source, the system range leader's writes and `freshRevision` read
    /// points take their revisions from the loop's own confirmation rounds, and they keep the
    /// oracle's promise (unique, above everything handed out before the call started) — also
    /// for a leader cut off from its quorum that still believes it leads.
    @Suite struct LoopOracleTests {
        /// A cluster whose nodes use the system range's oracle (not the shared in-memory one).
        /// Moves the user range's leadership to the system range's leader (the loop oracle serves
        /// only there); returns both.
        static func colocate(_ c: TestCluster) async throws -> (NodeID, RangeID) {
            let leader = try #require(await c.systemLeader())
            let range = c.rangeIDs[0]
            if c.leader(of: range) != leader {
                _ = await c.eventually(10) { c.leader(of: range) != nil }
                c.hosts[c.leader(of: range)!]?.transferLeadership(of: range, to: leader)
            }
            #expect(await c.eventually(10) { c.leader(of: range) == leader })
            return (leader, range)
        }

        static func cluster(inLoop: Bool, tune: @escaping @Sendable (inout NodeConfig) -> Void = { _ in }) throws -> TestCluster {
            try TestCluster(ranges: 1) { cfg in
                cfg.revisionSource = nil
                cfg.oracleInLoop = inLoop
                tune(&cfg)
            }
        }

        /// Four workers on the system range's leader (which also leads the user range) each
        /// take a read point and then put; every revision is unique and above everything
        /// that ended before its call started, every put's revision is above the read point
        /// its worker took before it, and the loop ran the confirmations itself exactly when
        /// the switch is on (with it off the async path serves everything, as before).
        @Test(arguments: [true, false])
        func writesAndReadPointsKeepTheOraclesPromise(inLoop: Bool) async throws {
            let c = try Self.cluster(inLoop: inLoop)
            defer { c.shutdown() }
            let (leader, range) = try await Self.colocate(c)
            let host = c.hosts[leader]!
            let history = OracleHistory()
            let problems = ProblemLog()
            await withTaskGroup(of: Void.self) { group in
                for w in 0..<4 {
                    group.addTask {
                        for i in 0..<50 {
                            do {
                                let start = OracleCheck.nowNs()
                                let point = try await host.freshRevision()
                                let mid = OracleCheck.nowNs()
                                history.record(OracleCallRecord(startNs: start, endNs: mid, revisions: point...point, node: leader))
                                let put = PutRequest(key: c.key(range: 0, "w\(w)-\(i)"), value: [UInt8(i)])
                                guard case .put(let resp) = try await host.propose(.put(put), to: range) else {
                                    problems.add("worker \(w): put \(i) answered something else")
                                    continue
                                }
                                history.record(OracleCallRecord(startNs: mid, endNs: OracleCheck.nowNs(),
                                                                revisions: resp.revision...resp.revision, node: leader))
                                if resp.revision <= point {
                                    problems.add("worker \(w): put at \(resp.revision) after read point \(point)")
                                }
                            } catch {
                                problems.add("worker \(w): \(error)")
                            }
                        }
                    }
                }
            }
            #expect(problems.all.isEmpty, "\(problems.all.prefix(5))")
            #expect(history.count == 400)
            let problem = OracleCheck.violation(in: history.all)
            #expect(problem == nil, "\(problem ?? "")")
            // Metrics are published on tick rounds.
            let rounds = { host.metrics.loopOracleRounds }
            if inLoop {
                #expect(await c.eventually(5) { rounds() > 0 }, "the loop never served the oracle")
            } else {
                try await Task.sleep(for: .milliseconds(200))
                #expect(rounds() == 0)
            }
        }

        /// The system range leader is cut off (it notices only after 3 s) while every node
        /// keeps asking its own `freshRevision`: the deposed leader's loop must not hand out
        /// anything below what the new leader already handed out — its confirmation never
        /// reaches a quorum, so its callers wait and fall back instead.
        @Test func partitionedLeaderServesNothingStaleFromTheLoop() async throws {
            // No oracle lease on node 1: a lease assumes every node has the same election
            // timeout (OracleLeaseTests cover the lease).
            let c = try Self.cluster(inLoop: true) { cfg in
                if cfg.nodeID == NodeID(1) {
                    cfg.electionTicks = 60
                    cfg.oracleLease = false
                }
            }
            defer { c.shutdown() }
            let old = try #require(await c.systemLeader())
            _ = try await c.hosts[old]!.freshRevision()  // the old leader holds a block and a session
            #expect(await c.eventually(5) { c.hosts[old]!.metrics.loopOracleRounds > 0 })
            let (moved, problem) = try await OracleCheck.partitionAndFetch(c, old: old) { host in
                let r = try await host.freshRevision()
                return r...r
            }
            #expect(moved, "no new leader served")
            #expect(problem == nil, "\(problem ?? "")")
        }

        /// One node call through `handleCall(from:_:answer:)`; checks it is answered exactly once.
        static func call(_ h: NodeHost, _ nc: NodeCall) async -> NodeCallAnswer? {
            let answers = AnswerCount()
            let bytes = await withCheckedContinuation { (k: CheckedContinuation<[UInt8], Never>) in
                h.handleCall(from: NodeID(9), nc.encoded()) { a in
                    if answers.n.add(1, ordering: .relaxed).newValue == 1 { k.resume(returning: a) }
                }
            }
            try? await Task.sleep(for: .milliseconds(1))
            #expect(answers.n.load(ordering: .relaxed) == 1, "answered \(answers.n.load(ordering: .relaxed)) times")
            return try? NodeCallAnswer.decode(bytes)
        }

        /// Forwarded proposals, fresh reads and peers' oracle fetches answered without a task
        /// (`handleCall(from:_:answer:)`, session 11): on the leader of both ranges, concurrent
        /// calls put distinct keys and read them back; every fresh read issued after a put was
        /// answered sees it, at a read point above its revision; oracle calls get fresh, rising
        /// revisions; a node that does not lead answers notLeader with the hint; a malformed call
        /// answers a failure. Each answer arrives exactly once.
        @Test func hotCallsAnsweredFromTheLoop() async throws {
            let c = try Self.cluster(inLoop: true)
            defer { c.shutdown() }
            let (leader, range) = try await Self.colocate(c)
            let host = c.hosts[leader]!
            let epoch = host.descriptor(of: range)!.epoch
            let problems = ProblemLog()
            await withTaskGroup(of: Void.self) { group in
                for w in 0..<4 {
                    group.addTask {
                        for i in 0..<25 {
                            let key = c.key(range: 0, "c\(w)-\(i)")
                            let put = PutRequest(key: key, value: [UInt8(w), UInt8(i)])
                            let id = UInt64(w * 1_000 + i + 1) << 8
                            guard case .result(.put(let p)) = await Self.call(host, .propose(.put(put), range: range, epoch: epoch, requestID: id)) else {
                                problems.add("put \(w)/\(i) not answered with a put result")
                                continue
                            }
                            guard case .range(let r) = await Self.call(host, .readFresh(RangeRequest(key: key), range: range, epoch: epoch)) else {
                                problems.add("read \(w)/\(i) not answered with a range")
                                continue
                            }
                            if r.kvs.first?.value != [UInt8(w), UInt8(i)] || r.revision <= p.revision {
                                problems.add("read \(w)/\(i): \(r.kvs.first?.value ?? []) at \(r.revision) after put at \(p.revision)")
                            }
                        }
                    }
                }
            }
            #expect(problems.all.isEmpty, "\(problems.all.prefix(5))")
            let follower = c.hosts.first { $0.key != leader }!.value
            let refused = await Self.call(follower, .readFresh(RangeRequest(key: [1]), range: range, epoch: epoch))
            #expect(refused == .failure(.notLeader(leaderHint: leader)), "\(String(describing: refused))")
            let refusedPut = await Self.call(follower, .propose(.put(PutRequest(key: [1], value: [1])), range: range, epoch: epoch, requestID: 7))
            #expect(refusedPut == .failure(.notLeader(leaderHint: leader)), "\(String(describing: refusedPut))")
            // A peer's oracle fetch: served by the system range leader's loop, refused elsewhere.
            var last: Int64 = 0
            for n in 1...20 {
                guard case .revisions(let r) = await Self.call(host, .oracleRevisions(count: n)), r.count == n, r.lowerBound > last else {
                    Issue.record("oracle call \(n) not answered with \(n) fresh revisions above \(last)")
                    break
                }
                last = r.upperBound
            }
            let refusedOracle = await Self.call(follower, .oracleRevisions(count: 2))
            #expect(refusedOracle == .failure(.notLeader(leaderHint: leader)), "\(String(describing: refusedOracle))")
            let malformed = await withCheckedContinuation { (k: CheckedContinuation<[UInt8], Never>) in
                host.handleCall(from: NodeID(9), [0x10, 0xFF]) { k.resume(returning: $0) }
            }
            guard case .failure = try NodeCallAnswer.decode(malformed) else {
                Issue.record("a malformed call was not answered with a failure")
                return
            }
        }
    }
}

/// How many times a call was answered (`LoopOracleTests.call`).
final class AnswerCount: Sendable {
    let n = Atomic<Int>(0)
}

/// Problems found by concurrent workers.
final class ProblemLog: Sendable {
    let list = Mutex<[String]>([])
    func add(_ p: String) { list.withLock { $0.append(p) } }
    var all: [String] { list.withLock { $0 } }
}
