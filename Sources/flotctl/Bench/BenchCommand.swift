import ArgumentParser
import Foundation
import GRPCCore
import Proto

/// `flotctl bench put|get|txn|watch`: an etcd v3 API load generator (runs against any etcd
/// or Flotilla endpoint); prints ops/s and p50/p99/p99.9 latency.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Load generator over the etcd v3 API.",
        subcommands: [Put.self, Get.self, Txn.self, WatchBench.self])

    /// Random key and a value of `valSize` bytes.
    static func value(_ size: Int) -> Data { Data(repeating: UInt8(ascii: "v"), count: size) }

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "put", abstract: "Puts random keys (KV.Put).")
        @OptionGroup var options: BenchOptions

        func run() async throws {
            let o = options
            do {
                let seed = o.effectiveSeed()
                let value = BenchCommand.value(o.valSize)
                let r = try await BenchRunner.withSessions(endpoints: try o.global.endpointList(), conns: o.conns) { sessions in
                    await BenchRunner.run(o, sessions: sessions, seed: seed) { s, _, rng in
                        var p = Etcdserverpb_PutRequest()
                        p.key = o.key(Int.random(in: 0..<o.keySpace, using: &rng))
                        p.value = value
                        _ = try await s.kv.put(p)
                    }
                }
                Console.out(BenchRunner.report(workload: "put", r, extra: [("seed", String(seed))]))
                try BenchRunner.requireNoErrors(r)
            } catch {
                Console.fail(error)
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "get", abstract: "Gets random keys (KV.Range of one key).")
        @OptionGroup var options: BenchOptions
        @Option(help: "Linearizable(l) or Serializable(s).") var consistency: String = "l"
        @Flag(help: "Put every key of the key space once before measuring.") var prefill = false
        @Flag(name: .customLong("prefill-only"), help: "Put every key of the key space once, then exit without measuring.")
        var prefillOnly = false

        func run() async throws {
            let o = options
            guard ["l", "s"].contains(consistency) else { Console.fail(CLIError("unknown consistency flag \"\(consistency)\"", code: .invalidInput)) }
            let serializable = consistency == "s"
            let prefill = prefill
            do {
                if prefillOnly {
                    try await BenchRunner.withSessions(endpoints: try o.global.endpointList(), conns: o.conns) { sessions in
                        try await Get.prefill(o, sessions)
                    }
                    Console.out("prefilled \(o.keySpace) keys\n")
                    return
                }
                let seed = o.effectiveSeed()
                let r = try await BenchRunner.withSessions(endpoints: try o.global.endpointList(), conns: o.conns) { sessions in
                    if prefill { try await Get.prefill(o, sessions) }
                    return await BenchRunner.run(o, sessions: sessions, seed: seed) { s, _, rng in
                        var g = Etcdserverpb_RangeRequest()
                        g.key = o.key(Int.random(in: 0..<o.keySpace, using: &rng))
                        g.serializable = serializable
                        _ = try await s.kv.range(g)
                    }
                }
                Console.out(BenchRunner.report(workload: serializable ? "get-s" : "get-l", r, extra: [("seed", String(seed))]))
                try BenchRunner.requireNoErrors(r)
            } catch {
                Console.fail(error)
            }
        }

        /// Writes every key once, `clients` at a time.
        static func prefill(_ o: BenchOptions, _ sessions: [EtcdSession]) async throws {
            let value = BenchCommand.value(o.valSize)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for c in 0..<o.clients {
                    group.addTask {
                        let s = sessions[c % sessions.count]
                        var k = c
                        while k < o.keySpace {
                            var p = Etcdserverpb_PutRequest()
                            p.key = o.key(k)
                            p.value = value
                            // A loaded 3-member etcd can drop a stream; retry so one
                            // hiccup does not abort the whole run.
                            for attempt in 1...5 {
                                do {
                                    _ = try await s.kv.put(p)
                                    break
                                } catch where attempt < 5 {
                                    try await Task.sleep(for: .milliseconds(100 * attempt))
                                }
                            }
                            k += o.clients
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    struct Txn: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "txn", abstract: "Txns of --txn-ops puts on random keys (etcd benchmark's txn-put).")
        @OptionGroup var options: BenchOptions
        @Option(name: .customLong("txn-ops"), help: "Puts per transaction.") var txnOps: Int = 1
        @Flag(name: .customLong("compare"), help: "Guard each txn with a compare (mod(key) >= 0, always true).") var withCompare = false

        func run() async throws {
            let o = options
            let ops = max(1, txnOps)
            let withCompare = withCompare
            do {
                let seed = o.effectiveSeed()
                let value = BenchCommand.value(o.valSize)
                let r = try await BenchRunner.withSessions(endpoints: try o.global.endpointList(), conns: o.conns) { sessions in
                    await BenchRunner.run(o, sessions: sessions, seed: seed) { s, _, rng in
                        var t = Etcdserverpb_TxnRequest()
                        for _ in 0..<ops {
                            var p = Etcdserverpb_PutRequest()
                            p.key = o.key(Int.random(in: 0..<o.keySpace, using: &rng))
                            p.value = value
                            var op = Etcdserverpb_RequestOp()
                            op.requestPut = p
                            t.success.append(op)
                        }
                        if withCompare, let first = t.success.first {
                            var c = Etcdserverpb_Compare()
                            c.key = first.requestPut.key
                            c.target = .mod
                            c.result = .greater
                            c.modRevision = -1
                            t.compare = [c]
                        }
                        _ = try await s.kv.txn(t)
                    }
                }
                Console.out(BenchRunner.report(workload: "txn", r, extra: [("seed", String(seed)), ("txn_ops", String(ops))]))
                try BenchRunner.requireNoErrors(r)
            } catch {
                Console.fail(error)
            }
        }
    }
}
