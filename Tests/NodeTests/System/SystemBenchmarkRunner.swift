import Foundation
import Node
import Testing

/// Runs `SystemBenchmark` when FLOTILLA_NODE_BENCH is set (`FLOTILLA_NODE_BENCH=1 swift test
/// --filter SystemBenchmarkRunner`); prints figures and checks only that calls were served.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["FLOTILLA_NODE_BENCH"] != nil))
struct SystemBenchmarkRunner {
    var seconds: Double { Double(ProcessInfo.processInfo.environment["FLOTILLA_NODE_BENCH_SECONDS"] ?? "5") ?? 5 }

    @Test(arguments: [1, 64]) func oracle(callers: Int) async throws {
        let r = try await SystemBenchmark.oracle(callers: callers, seconds: seconds)
        print("node-bench oracle: \(r)")
        #expect(r.calls > 0)
    }
}
