import Base
import Foundation
import Server
import Synchronization
import Testing

extension ClusterProcessSuites {
    /// Issue #5's guarantees on three real `flotilla serve` processes with 8 ranges, through the
    /// etcd gRPC API: concurrent writers over keys spread across every range while range leaders
    /// (the system range's too) are transferred and a node is kill -9'ed and restarted.
    /// (a) revision order of acknowledged writes (and reads) in real time; (b) "read at R, watch
    /// from R + 1" neither misses nor duplicates an event; (c) no acknowledged write is lost.
    /// The seed (FLOTILLA_SEED to reproduce the plan) is in every failure message.
    @Suite("guarantees on three flotilla processes", .serialized,
           .enabled(if: ClusterHarness.binaryExists, "build the flotilla product first"))
    struct GuaranteeProcessTests {
        /// Keys: 8 per range (first byte 0x10, 0x30, …, 0xF0 lands in each eighth of the keyspace).
        static let keys: [[UInt8]] = (0..<8).flatMap { r in (0..<8).map { k in [UInt8(0x10 + 0x20 * r)] + Array("g/\(k)".utf8) } }

        /// Tells the writers to stop.
        final class StopFlag: Sendable {
            let value = Atomic<Bool>(false)
        }

        /// What the writers recorded.
        final class Recorder: Sendable {
            struct State {
                var acked: [TimedOp] = []
                var unknown = Set<[UInt8]>()
                var refused = 0
            }
            let state = Mutex(State())
        }

        @Test("revision order, read-then-watch and durability under leader transfers and a kill -9")
        func guarantees() async throws {
            let seed = UInt64(ProcessInfo.processInfo.environment["FLOTILLA_SEED"] ?? "") ?? UInt64.random(in: 1...1_000_000)
            var rng = SeededGenerator(seed: seed)
            let h = try ClusterHarness(ranges: 8, extra: ["--tickIntervalMs", "50"])
            let endpoints = try (1...3).map { try EtcdTestEndpoint(port: h.clientPorts[$0 - 1]) }
            defer {
                for e in endpoints { e.close() }
                h.shutdown()
            }
            try h.startAll()
            try #require(await h.waitAllLed(), "seed \(seed): no leaders at start; log 1:\n\(h.log(1).suffix(2000))")
            let ready = await eventually(.seconds(30)) { (try? await endpoints[0].put([0x01], [0x01])) != nil }
            try #require(ready, "seed \(seed): the etcd API never answered; log 1:\n\(h.log(1).suffix(2000))")

            let recorder = Recorder()
            let stopWriting = StopFlag()
            let writers = 6
            let writerTasks = (0..<writers).map { w in
                let writerSeed = rng.next()
                return Task {
                    var r = SeededGenerator(seed: writerSeed)
                    var n = 0
                    while !stopWriting.value.load(ordering: .relaxed) {
                        n += 1
                        let key = Self.keys[Int(r.next() % UInt64(Self.keys.count))]
                        let value = Array("w\(w)-\(n)".utf8)
                        let e = endpoints[(w + Int(r.next() % 3)) % 3]
                        let call = monotonicNs()
                        do {
                            let revision = try await e.put(key, value)
                            let op = TimedOp(kind: .write, key: key, value: value, revision: revision, callNs: call,
                                             returnNs: monotonicNs(), who: "writer \(w) via \(e.address)")
                            recorder.state.withLock { $0.acked.append(op) }
                        } catch {
                            let definite = EtcdTestEndpoint.isDefiniteRefusal(error)
                            recorder.state.withLock { s in if definite { s.refused += 1 } else { s.unknown.insert(value) } }
                            try? await Task.sleep(for: .milliseconds(20))
                        }
                    }
                }
            }

            // Readers/watchers start at random times while the faults happen.
            let runEnd = ContinuousClock.now + .seconds(60)
            var watchers: [GuaranteeWatcher] = []
            var watcherTasks: [Task<TimedOp?, Never>] = []
            for i in 0..<4 {
                let delay = Int(rng.next() % 9_000) + 300
                let w = GuaranteeWatcher(id: i, endpoints: endpoints, first: Int(rng.next() % 3))
                watchers.append(w)
                watcherTasks.append(Task {
                    try? await Task.sleep(for: .milliseconds(delay))
                    return await w.run(deadline: runEnd)
                })
            }

            var faults: [String] = []
            try await Task.sleep(for: .seconds(2))
            faults.append(await Self.transferLeaders(h, &rng))
            try await Task.sleep(for: .seconds(1))
            let counts = await h.leaderCounts()
            let victim = counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }?.key ?? 1
            h.kill9(victim)
            faults.append("kill -9 node \(victim) (leading \(counts[victim] ?? 0) ranges)")
            try await Task.sleep(for: .seconds(3))
            try h.start(victim)
            faults.append("restarted node \(victim)")
            try await Task.sleep(for: .seconds(3))
            faults.append(await Self.transferLeaders(h, &rng))
            try await Task.sleep(for: .seconds(2))
            stopWriting.value.store(true, ordering: .relaxed)
            for t in writerTasks { await t.value }

            // The final linearizable read, through the restarted node (its writes must be there).
            var finalRead: (revision: Int64, state: [[UInt8]: KVState])?
            let finalCall = monotonicNs()
            for attempt in 0..<40 where finalRead == nil {
                finalRead = try? await endpoints[(victim - 1 + attempt) % 3].readAll()
                if finalRead == nil { try? await Task.sleep(for: .milliseconds(250)) }
            }
            let final = try #require(finalRead, "seed \(seed): no final read; log \(victim):\n\(h.log(victim).suffix(2000))")
            for w in watchers { w.stop(after: final.revision) }
            var reads: [TimedOp] = [TimedOp(kind: .read, key: [], value: [], revision: final.revision, callNs: finalCall,
                                            returnNs: monotonicNs(), who: "final read")]
            for t in watcherTasks { if let op = await t.value { reads.append(op) } }

            let history = recorder.state.withLock { $0 }
            let context = "seed \(seed); faults: \(faults.joined(separator: "; ")); \(history.acked.count) acknowledged writes, "
                + "\(history.unknown.count) unknown, \(history.refused) refused; final read at \(final.revision)"
            print("guarantees: \(context)")
            #expect(history.acked.count >= 100, "too little traffic: \(context)")
            for f in GuaranteeCheck.revisionOrder(history.acked + reads) { Issue.record("\(f)\n\(context)") }
            for f in GuaranteeCheck.durability(history.acked, finalState: final.state) { Issue.record("\(f)\n\(context)") }
            let logs = watchers.compactMap(\.log)
            #expect(logs.count == watchers.count, "a watcher never read: \(context)")
            for log in logs {
                for f in GuaranteeCheck.watcher(log, acked: history.acked, unknown: history.unknown,
                                                finalRevision: final.revision, finalState: final.state) {
                    Issue.record("\(f)\n\(context)")
                }
            }
            for i in logs.indices {
                for j in logs.indices where j > i {
                    for f in GuaranteeCheck.agree(logs[i], logs[j], finalRevision: final.revision) { Issue.record("\(f)\n\(context)") }
                }
            }
            let watched = logs.map { "watcher \($0.id): read at \($0.readRevision), \($0.events.count) events, \($0.resumes) resumes" }
            print("guarantees: " + watched.joined(separator: "; "))
        }

        /// Moves the leadership of every range (the system range's too, which `status` does not
        /// list: every node is asked, only its leader accepts) to another running node once;
        /// returns what it did.
        static func transferLeaders(_ h: ClusterHarness, _ rng: inout SeededGenerator) async -> String {
            var moved: [String] = []
            let running = h.processes.keys.sorted()
            var leaders: [(range: RangeID, node: Int)] = []
            for i in running {
                for s in await h.status(i) ?? [] where s.isLeader { leaders.append((s.rangeID, i)) }
            }
            for i in running { leaders.append((.system, i)) }
            for (range, i) in leaders {
                let others = running.filter { $0 != i }
                guard !others.isEmpty else { continue }
                let target = others[Int(rng.next() % UInt64(others.count))]
                let reply = try? await h.cluster.clients[NodeID(UInt64(i))]!.transferLeader(of: range, to: NodeID(UInt64(target)))
                if range == .system && reply?.code != .ok { continue }
                moved.append("r\(range.rawValue) \(i)→\(target)\(reply?.code == .ok ? "" : " (refused)")")
            }
            return "transfer " + moved.joined(separator: ", ")
        }
    }
}
