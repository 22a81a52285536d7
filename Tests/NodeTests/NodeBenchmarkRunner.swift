import Foundation
import Node
import Testing

/// Runs `NodeBenchmark` when FLOTILLA_NODE_BENCH is set (e.g. `FLOTILLA_NODE_BENCH=1 swift test
/// --filter NodeBenchmarkRunner`); prints figures and checks only that writes happened.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["FLOTILLA_NODE_BENCH"] != nil))
struct NodeBenchmarkRunner {
    var seconds: Double { Double(ProcessInfo.processInfo.environment["FLOTILLA_NODE_BENCH_SECONDS"] ?? "5") ?? 5 }

    @Test(arguments: [1, 8, 64]) func writeLoad(ranges: Int) async throws {
        let r = try await NodeBenchmark.writeLoad(ranges: ranges, writers: 64, seconds: seconds)
        print("node-bench write: \(r)")
        #expect(r.writes > 0)
    }

    @Test func snapshotTransfer() throws {
        let mb = Int(ProcessInfo.processInfo.environment["FLOTILLA_NODE_BENCH_SNAPSHOT_MB"] ?? "64") ?? 64
        print("node-bench snapshot: \(try NodeBenchmark.snapshotTransfer(megabytes: mb))")
    }

    @Test func idleCost() async throws {
        let n = Int(ProcessInfo.processInfo.environment["FLOTILLA_NODE_BENCH_IDLE_RANGES"] ?? "2000") ?? 2000
        print("node-bench idle: \(try await NodeBenchmark.idleCost(ranges: n, seconds: seconds))")
    }
}
