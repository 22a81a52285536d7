import Base
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
        /// Failed requests by error message (etcd's text, or the transport's).
        var errorKinds: [String: Int] = [:]
        var elapsed: Duration = .zero
        /// CPU time (user + system) this client process spent during the run, in µs.
        var clientCPUMicros: Int64 = 0

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
        op: @Sendable @escaping (EtcdSession, Int, inout SeededGenerator) async throws -> Void
    ) async -> Result {
        let issued = Counter()
        let total = options.duration > 0 ? Int.max : options.total
        let start = ContinuousClock.now
        let cpuBefore = processCPUMicros()
        let deadline = options.duration > 0 ? start + .milliseconds(Int64(options.duration * 1000)) : nil
        var merged = await withTaskGroup(of: Result.self) { group in
            for c in 0..<options.clients {
                group.addTask {
                    var r = Result()
                    var rng = SeededGenerator(seed: seed &+ UInt64(c) &* 0x1000_0001)
                    let session = sessions[c % sessions.count]
                    var backoff = Duration.zero
                    while true {
                        if let deadline, ContinuousClock.now >= deadline { break }
                        if issued.value.add(1, ordering: .relaxed).newValue > total { break }
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        do {
                            try await op(session, c, &rng)
                            r.histogram.record(DispatchTime.now().uptimeNanoseconds - t0)
                            backoff = .zero
                        } catch {
                            r.recordError(CLIError.from(error).message)
                            // Back off (1 ms doubling to 250 ms) so a broken connection or an
                            // overloaded server is not hammered by a hot error loop.
                            backoff = BenchRunner.nextBackoff(after: backoff)
                            try? await Task.sleep(for: backoff)
                        }
                    }
                    return r
                }
            }
            var all = Result()
            for await r in group {
                all.merge(r)
            }
            return all
        }
        merged.elapsed = ContinuousClock.now - start
        merged.clientCPUMicros = processCPUMicros() - cpuBefore
        return merged
    }

    /// Fails (exit status 1, after the report was printed) when any request failed: a run
    /// with errors is not a result.
    static func requireNoErrors(_ r: Result) throws {
        if r.errors > 0 { throw CLIError("\(r.errors) requests failed (first: \(r.firstError ?? "?"))") }
    }

    /// The pause after a failed request: 1 ms after a success, doubling to 250 ms.
    static func nextBackoff(after previous: Duration) -> Duration {
        previous == .zero ? .milliseconds(1) : min(previous * 2, .milliseconds(250))
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
        for (kind, n) in r.errorKinds.sorted(by: { $0.value > $1.value }).prefix(5) { out += "errors: \(n) x \(kind)\n" }
        if r.errors > 0 { out += "INVALID: \(r.errors) failed requests; a run with errors is not a result\n" }
        var fields: [(String, String)] = [
            ("workload", workload), ("ops", String(h.count)), ("errors", String(r.errors)),
            ("seconds", String(format: "%.3f", r.seconds)), ("ops_per_s", String(format: "%.1f", r.opsPerSecond)),
            ("p50_ms", ms(h.percentile(0.5))), ("p99_ms", ms(h.percentile(0.99))), ("p999_ms", ms(h.percentile(0.999))),
        ]
        if r.clientCPUMicros > 0, h.count > 0 {
            fields.append(("client_cpu_us_per_op", String(format: "%.1f", Double(r.clientCPUMicros) / Double(h.count))))
        }
        fields += extra
        out += "RESULT " + fields.map { "\($0.0)=\($0.1)" }.joined(separator: " ") + "\n"
        return out
    }
}

extension BenchRunner.Result {
    mutating func recordError(_ message: String) {
        errors += 1
        if firstError == nil { firstError = message }
        errorKinds[String(message.prefix(120)), default: 0] += 1
    }

    /// Adds another client's latencies and errors.
    mutating func merge(_ other: BenchRunner.Result) {
        histogram.merge(other.histogram)
        errors += other.errors
        if firstError == nil { firstError = other.firstError }
        for (k, n) in other.errorKinds { errorKinds[k, default: 0] += n }
    }
}

/// User + system CPU time of this process so far, in µs (CLOCK_PROCESS_CPUTIME_ID).
func processCPUMicros() -> Int64 {
    var ts = timespec()
    guard clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0 else { return 0 }
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
}

/// A request counter shared by a run's client tasks.
final class Counter: Sendable {
    let value = Atomic<Int>(0)
}
