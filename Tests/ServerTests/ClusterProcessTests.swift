import Base
import Foundation
import Server
import Testing

extension ClusterProcessSuites {
    /// Real `flotilla serve` processes on 127.0.0.1 (needs .build/debug/flotilla: Tools/test
    /// builds every product first). Seeds for the random choices are printed in failures.
    @Suite("three flotilla processes", .serialized, .enabled(if: ClusterHarness.binaryExists, "build the flotilla product first"))
    struct ClusterProcessTests {
        /// Writes `count` keys; returns the acknowledged ones (key → value).
        static func write(_ h: ClusterHarness, prefix: String, count: Int, concurrency: Int = 16)
            async -> [[UInt8]: [UInt8]] {
            await withTaskGroup(of: ([UInt8], [UInt8])?.self) { group in
                var acked: [[UInt8]: [UInt8]] = [:]
                var next = 0
                func add() {
                    let i = next
                    next += 1
                    group.addTask {
                        // Leading byte spreads keys over every range.
                        let key = [UInt8(truncatingIfNeeded: i &* 37)] + Array("\(prefix)-\(i)".utf8)
                        let value = Array("v-\(prefix)-\(i)".utf8)
                        return (try? await h.cluster.put(key, value)) != nil ? (key, value) : nil
                    }
                }
                for _ in 0..<min(concurrency, count) { add() }
                for await r in group {
                    if let (k, v) = r { acked[k] = v }
                    if next < count { add() }
                }
                return acked
            }
        }

        /// Keys (of `acked`) that node `i` does not (yet) hold with the acknowledged value.
        static func missing(_ h: ClusterHarness, node i: Int, _ acked: [[UInt8]: [UInt8]]) async -> Int {
            var n = 0
            for (k, v) in acked {
                let r = await h.getLocal(i, k)
                if r?.code != .ok || r?.payload != v { n += 1 }
            }
            return n
        }

        @Test("8 ranges: every range elects a leader, writes commit on all replicas, /metrics and /status answer, SIGTERM exits cleanly")
        func writesReplicate() async throws {
            let h = try ClusterHarness(ranges: 8, extra: ["--tickIntervalMs", "50"])
            defer { h.shutdown() }
            try h.startAll()
            #expect(await h.waitAllLed(), "no leader for every range; log 1:\n\(h.log(1).suffix(2000))")
            let acked = await Self.write(h, prefix: "a", count: 200)
            #expect(acked.count == 200, "only \(acked.count) of 200 writes acknowledged")
            for i in 1...3 {
                #expect(await eventually(.seconds(20)) { await Self.missing(h, node: i, acked) == 0 },
                        "node \(i) misses writes")
            }
            let metrics = httpGet(port: h.metricsPorts[0], path: "/metrics")
            #expect(metrics?.status == 200)
            for name in ["flotilla_wal_fsync_duration_seconds_bucket", "flotilla_wal_entries_per_fsync",
                         "flotilla_proposals_total", "flotilla_range_applied_index", "flotilla_leader_ranges",
                         "flotilla_quiesced_ranges", "flotilla_snapshot_bytes_sent_total",
                         "flotilla_snapshot_bytes_received_total", "flotilla_peer_stream_reconnects_total"] {
                #expect(metrics?.body.contains(name) == true, "/metrics lacks \(name)")
            }
            let status = httpGet(port: h.metricsPorts[1], path: "/status")
            #expect(status?.status == 200)
            // 8 user ranges + the system range.
            #expect(status?.body.contains("\"rangeCount\":9") == true, "\(status?.body ?? "no /status")")
            #expect(httpGet(port: h.metricsPorts[2], path: "/health")?.body == "ok\n")
            // Admin transferLeader moves a range's leadership to the node asked for.
            let range = RangeID(2)
            var leader = 0
            for i in 1...3 where await h.status(i)?.first(where: { $0.rangeID == range })?.isLeader == true { leader = i }
            try #require(leader > 0, "range 2 has no leader")
            let target = leader % 3 + 1
            let reply = try await h.cluster.clients[NodeID(UInt64(leader))]!.transferLeader(of: range, to: NodeID(UInt64(target)))
            #expect(reply.code == .ok, "\(reply)")
            #expect(await eventually(.seconds(10)) {
                await h.status(target)?.first(where: { $0.rangeID == range })?.isLeader == true
            }, "range 2 did not move from node \(leader) to node \(target)")
            for i in 1...3 { #expect(h.terminate(i) == 0, "node \(i) did not exit 0 on SIGTERM") }
            // Data directories are private, and a node refuses another node's directory.
            let mode = (try FileManager.default.attributesOfItem(atPath: "\(h.root)/node-1")[.posixPermissions] as? Int) ?? 0
            #expect(mode & 0o777 == 0o700, "data dir mode \(String(mode, radix: 8))")
            let p = Process()
            p.executableURL = URL(fileURLWithPath: ClusterHarness.binary)
            p.arguments = ["serve", "--nodeID", "2", "--dataDir", "\(h.root)/node-1", "--clientAddress", "127.0.0.1:0",
                           "--peerAddress", "127.0.0.1:0", "--metricsAddress", "127.0.0.1:0"]
            let errPipe = Pipe()
            p.standardError = errPipe
            try p.run()
            p.waitUntilExit()
            let err = String(decoding: errPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(p.terminationStatus != 0, "node 2 started on node 1's directory")
            #expect(err.contains("cannot start"), "\(err)")
        }

        /// kill -9 rounds: the first kills the node holding most leaders. Environment
        /// FLOTILLA_KILL_ROUNDS overrides the count (Tools/kill-loop runs ≥ 20).
        @Test("kill -9 of a node loses no acknowledged write; the cluster keeps serving; the node catches up")
        func killLoop() async throws {
            let rounds = Int(ProcessInfo.processInfo.environment["FLOTILLA_KILL_ROUNDS"] ?? "") ?? 3
            let seed = UInt64(ProcessInfo.processInfo.environment["FLOTILLA_SEED"] ?? "") ?? UInt64.random(in: 1...1_000_000)
            var rng = SeededGenerator(seed: seed)
            let h = try ClusterHarness(ranges: 8, extra: ["--tickIntervalMs", "50"])
            defer { h.shutdown() }
            try h.startAll()
            #expect(await h.waitAllLed(), "seed \(seed): no leaders at start")
            var acked = await Self.write(h, prefix: "init", count: 100)
            for round in 1...rounds {
                let counts = await h.leaderCounts()
                let victim = round == 1 || rng.next() % 2 == 0
                    ? counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }!.key
                    : Int(rng.next() % 3) + 1
                h.kill9(victim)
                // The survivors elect leaders for the victim's ranges and keep serving.
                #expect(await h.waitAllLed(timeout: .seconds(30)), "seed \(seed) round \(round): no re-election")
                let during = await Self.write(h, prefix: "r\(round)", count: 60)
                #expect(during.count >= 50, "seed \(seed) round \(round): only \(during.count)/60 writes with node \(victim) down")
                acked.merge(during) { _, new in new }
                try h.start(victim)
                #expect(await eventually(.seconds(60)) { await Self.missing(h, node: victim, acked) == 0 },
                        "seed \(seed) round \(round): restarted node \(victim) did not catch up; log:\n\(h.log(victim).suffix(3000))")
            }
            for i in 1...3 {
                #expect(await Self.missing(h, node: i, acked) == 0, "seed \(seed): node \(i) lost acknowledged writes")
            }
        }

        @Test("a node whose log was truncated away catches up from an LZ4 snapshot")
        func snapshotCatchUp() async throws {
            // Tiny WAL segments so GC truncates the log while node 3 is down.
            let h = try ClusterHarness(ranges: 2, extra: ["--tickIntervalMs", "50", "--walSegmentBytes", "65536",
                                                          "--walGCIntervalMs", "100"])
            defer { h.shutdown() }
            try h.startAll()
            #expect(await h.waitAllLed())
            var acked = await Self.write(h, prefix: "pre", count: 50)
            h.kill9(3)
            #expect(await h.waitAllLed(timeout: .seconds(30)))
            acked.merge(await Self.write(h, prefix: "gap", count: 3_000, concurrency: 32)) { _, n in n }
            try h.start(3)
            #expect(await eventually(.seconds(90)) { await Self.missing(h, node: 3, acked) == 0 },
                    "node 3 did not catch up; log:\n\(h.log(3).suffix(3000))")
            let m = httpGet(port: h.metricsPorts[2], path: "/metrics")?.body ?? ""
            let received = m.split(separator: "\n").first { $0.hasPrefix("flotilla_snapshots_received_total ") }
            #expect(received.map { !$0.hasSuffix(" 0") } == true, "node 3 installed no snapshot: \(received ?? "none")")
        }
    }
}
