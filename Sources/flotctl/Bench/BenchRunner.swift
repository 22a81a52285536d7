import Dispatch
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Synchronization

/// Runs a closed-loop load: `clients` tasks, each issuing one request at a time on one of
/// `conns` connections, until `total` requests were issued or `duration` passed. Each task
/// keeps its own histogram; they are merged at the end. Owns the connections for the run.
enum BenchRunner {
    /// What a run measured.
    struct Result: Sendable {
        var histogram = LatencyHistogram()
        var errors = 0
        var firstError: String?
        var elapsed: Duration = .zero

        var seconds: Double { Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18 }
        var opsPerSecond: Double { seconds > 0 ? Double(histogram.count) / seconds : 0 }
    }

    /// Opens `conns` connections over `endpoints` (round robin) and runs `body` with one
    /// session per connection; the connections close when it returns.
    static func withSessions<R: Sendable>(
        endpoints: [Endpoint], conns: Int, _ body: @Sendable @escaping ([EtcdSession]) async throws -> R
    ) async throws -> R {
        let clients = try (0..<conns).map { i -> (Endpoint, GRPCClient<EtcdSession.Transport>) in
            let e = endpoints[i % endpoints.count]
            return (e, GRPCClient(transport: try EtcdSession.transport(to: e)))
        }
        return try await withThrowingTaskGroup(of: R?.self) { group in
            for (_, c) in clients { group.addTask { try await c.runConnections(); return nil } }
            let sessions = clients.map { EtcdSession(endpoint: $0.0, client: $0.1) }
            let result: R
            do {
                result = try await body(sessions)
            } catch {
                for (_, c) in clients { c.beginGracefulShutdown() }
                throw error
            }
            for (_, c) in clients { c.beginGracefulShutdown() }
            try await group.waitForAll()
            return result
        }
    }

    /// The closed loop. `op(session, client index, rng)` performs one request.
    static func run(
        _ options: BenchOptions, sessions: [EtcdSession], seed: UInt64,
        op: @Sendable @escaping (EtcdSession, Int, inout SplitMix64) async throws -> Void
    ) async -> Result {
        let issued = Counter()
        let total = options.duration > 0 ? Int.max : options.total
        let start = ContinuousClock.now
        let deadline = options.duration > 0 ? start + .milliseconds(Int64(options.duration * 1000)) : nil
        var merged = await withTaskGroup(of: Result.self) { group in
            for c in 0..<options.clients {
                group.addTask {
                    var r = Result()
                    var rng = SplitMix64(seed: seed &+ UInt64(c) &* 0x1000_0001)
                    let session = sessions[c % sessions.count]
                    while true {
                        if let deadline, ContinuousClock.now >= deadline { break }
                        if issued.value.add(1, ordering: .relaxed).newValue > total { break }
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        do {
                            try await op(session, c, &rng)
                            r.histogram.record(DispatchTime.now().uptimeNanoseconds - t0)
                        } catch {
                            r.errors += 1
                            if r.firstError == nil { r.firstError = CLIError.from(error).message }
                        }
                    }
                    return r
                }
            }
            var all = Result()
            for await r in group {
                all.histogram.merge(r.histogram)
                all.errors += r.errors
                if all.firstError == nil { all.firstError = r.firstError }
            }
            return all
        }
        merged.elapsed = ContinuousClock.now - start
        return merged
    }

    static func ms(_ ns: UInt64) -> String { String(format: "%.3f", Double(ns) / 1e6) }

    /// The human summary and one machine-readable `RESULT` line (Tools/bench-etcd parses it).
    static func report(workload: String, _ r: Result, extra: [(String, String)] = [], unit: String = "requests") -> String {
        let h = r.histogram
        var out = "\(workload): \(h.count) \(unit) in " + String(format: "%.2f s = %.1f ops/s", r.seconds, r.opsPerSecond)
            + ", \(r.errors) errors\n"
        out += "latency ms: p50 \(ms(h.percentile(0.5))) p90 \(ms(h.percentile(0.9))) p99 \(ms(h.percentile(0.99)))"
            + " p99.9 \(ms(h.percentile(0.999))) max \(ms(h.count > 0 ? h.max : 0))"
            + String(format: " mean %.3f\n", h.mean / 1e6)
        if let e = r.firstError { out += "first error: \(e)\n" }
        var fields: [(String, String)] = [
            ("workload", workload), ("ops", String(h.count)), ("errors", String(r.errors)),
            ("seconds", String(format: "%.3f", r.seconds)), ("ops_per_s", String(format: "%.1f", r.opsPerSecond)),
            ("p50_ms", ms(h.percentile(0.5))), ("p99_ms", ms(h.percentile(0.99))), ("p999_ms", ms(h.percentile(0.999))),
        ]
        fields += extra
        out += "RESULT " + fields.map { "\($0.0)=\($0.1)" }.joined(separator: " ") + "\n"
        return out
    }
}

/// A request counter shared by a run's client tasks.
final class Counter: Sendable {
    let value = Atomic<Int>(0)
}
