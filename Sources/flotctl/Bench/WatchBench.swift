import ArgumentParser
import Dispatch
import Foundation
import GRPCCore
import Proto
import Synchronization

/// `flotctl bench watch`: watch fan-out. Opens --streams Watch streams (over --conns
/// connections) carrying --watchers watchers in all, watcher j on key j mod K (K = min of
/// --key-space and --watchers), then puts random keys among those K with --clients
/// writers; each value carries its send time, so every delivered event yields one
/// put-to-event latency. Reports put throughput, event throughput and event latency.
struct WatchBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "watch", abstract: "Watch fan-out: put-to-event latency and event throughput.")
    @OptionGroup var options: BenchOptions
    @Option(help: "Total number of watchers.") var watchers: Int = 100
    @Option(help: "Number of Watch streams the watchers are spread over.") var streams: Int = 10
    @Flag(help: "Every watcher watches the whole keyspace (with 8 ranges: a watch spanning them all) instead of one key; puts go to --key-space keys.")
    var watchAll = false

    /// Events received and their latencies, shared by the stream readers.
    final class Delivery: Sendable {
        let histogram = Mutex(LatencyHistogram())
        let events = Atomic<Int>(0)
        let created = Atomic<Int>(0)
        let expected = Atomic<Int>(0)

        func record(_ r: Etcdserverpb_WatchResponse) {
            let now = DispatchTime.now().uptimeNanoseconds
            if r.created { created.add(1, ordering: .relaxed) }
            guard !r.events.isEmpty else { return }
            histogram.withLock { h in
                for e in r.events where e.type == .put && e.kv.value.count >= 8 {
                    let sent = e.kv.value.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                    h.record(now >= sent ? now - sent : 0)
                }
            }
            events.add(r.events.count, ordering: .relaxed)
        }
    }

    func run() async throws {
        let o = options
        let watchers = max(1, watchers)
        let streams = max(1, min(streams, watchers))
        let watchedKeys = watchAll ? o.keySpace : min(o.keySpace, watchers)
        var perKey = [Int](repeating: watchAll ? watchers : 0, count: watchedKeys)
        if !watchAll { for j in 0..<watchers { perKey[j % watchedKeys] += 1 } }
        let watchAll = self.watchAll
        let watchersPerKey = perKey
        let valSize = max(8, o.valSize)
        do {
            let seed = o.effectiveSeed()
            let delivery = Delivery()
            let (puts, eventsElapsed) = try await BenchRunner.withSessions(endpoints: try o.global.endpointList(), conns: o.conns) { sessions in
                try await withThrowingTaskGroup(of: Void.self, returning: (BenchRunner.Result, Duration).self) { group in
                    for s in 0..<streams {
                        let session = sessions[s % sessions.count]
                        let mine = Array(stride(from: s, to: watchers, by: streams))
                        group.addTask {
                            try await session.watch.watch(
                                request: StreamingClientRequest { writer in
                                    for j in mine {
                                        var r = Etcdserverpb_WatchRequest()
                                        if watchAll {
                                            r.createRequest.key = Data([0])
                                            r.createRequest.rangeEnd = Data([0])
                                        } else {
                                            r.createRequest.key = o.key(j % watchedKeys)
                                        }
                                        try await writer.write(r)
                                    }
                                    while !Task.isCancelled { try await Task.sleep(for: .seconds(3600)) }
                                }
                            ) { response in
                                for try await m in response.messages { delivery.record(m) }
                            }
                        }
                    }
                    // All watchers created before the first put.
                    let setupDeadline = ContinuousClock.now + .seconds(60)
                    while delivery.created.load(ordering: .relaxed) < watchers {
                        guard ContinuousClock.now < setupDeadline else {
                            throw CLIError("only \(delivery.created.load(ordering: .relaxed)) of \(watchers) watchers were created")
                        }
                        try await Task.sleep(for: .milliseconds(10))
                    }
                    let start = ContinuousClock.now
                    let puts = await BenchRunner.run(o, sessions: sessions, seed: seed) { s, _, rng in
                        let k = Int.random(in: 0..<watchedKeys, using: &rng)
                        var p = Etcdserverpb_PutRequest()
                        p.key = o.key(k)
                        var value = Data(count: valSize)
                        let now = DispatchTime.now().uptimeNanoseconds
                        for i in 0..<8 { value[i] = UInt8(truncatingIfNeeded: now >> UInt64(56 - 8 * i)) }
                        p.value = value
                        _ = try await s.kv.put(p)
                        // Counted once acknowledged: a failed put (e.g. etcd's "too many
                        // requests") may or may not deliver events, so it adds none.
                        delivery.expected.add(watchersPerKey[k], ordering: .relaxed)
                    }
                    // Drain: wait for every expected event, or 10 s without progress.
                    var last = -1
                    var idleSince = ContinuousClock.now
                    while delivery.events.load(ordering: .relaxed) < delivery.expected.load(ordering: .relaxed) {
                        let n = delivery.events.load(ordering: .relaxed)
                        if n != last {
                            last = n
                            idleSince = ContinuousClock.now
                        } else if ContinuousClock.now - idleSince > .seconds(10) {
                            break
                        }
                        try await Task.sleep(for: .milliseconds(5))
                    }
                    let elapsed = ContinuousClock.now - start
                    group.cancelAll()
                    return (puts, elapsed)
                }
            }
            var events = BenchRunner.Result()
            events.histogram = delivery.histogram.withLock { $0 }
            events.elapsed = eventsElapsed
            let received = delivery.events.load(ordering: .relaxed)
            let expected = delivery.expected.load(ordering: .relaxed)
            Console.out(BenchRunner.report(workload: "watch-put", puts, extra: [("seed", String(seed))]))
            Console.out(BenchRunner.report(
                workload: "watch-events", events, extra: [
                    ("watchers", String(watchers)), ("streams", String(streams)), ("received", String(received)),
                    ("expected", String(expected)),
                ], unit: "events"))
            try BenchRunner.requireNoErrors(puts)
            if received < expected { Console.fail(CLIError("received \(received) of \(expected) expected events")) }
        } catch {
            Console.fail(error)
        }
    }
}
