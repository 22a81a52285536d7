public import Base
import Foundation

/// Benchmark of the revision oracle over an in-process 3-node cluster (`LocalNetwork`, real
/// WAL and data files under a temporary directory), callers on the system range leader's
/// node. Owns only the temporary cluster it builds and removes.
public enum SystemBenchmark {
    /// Results of one oracle run.
    public struct OracleReport: Sendable, CustomStringConvertible {
        public var callers: Int
        public var seconds: Double
        public var calls: Int
        public var failures: Int
        public var p50Ms: Double
        public var p99Ms: Double
        /// Raft entries the system range applied (blocks) during the run.
        public var blocks: Int64

        public var callsPerSecond: Double { Double(calls) / seconds }

        public var description: String {
            String(format: "callers=%d: %.0f calls/s, p50 %.2f ms, p99 %.2f ms, %lld blocks, failures %d",
                   callers, callsPerSecond, p50Ms, p99Ms, blocks, failures)
        }
    }

    /// `callers` concurrent tasks each calling `oracleRevisions(count: 1)` in a loop for
    /// `seconds` on the system range leader.
    public static func oracle(callers: Int = 64, seconds: Double = 5) async throws -> OracleReport {
        let root = NSTemporaryDirectory() + "flotilla-oracle-bench-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let network = LocalNetwork(seed: 1)
        let bootstrap = BootstrapConfig(nodes: [NodeID(1), NodeID(2), NodeID(3)], rangeCount: 1)
        var hosts: [NodeHost] = []
        for n in bootstrap.nodes {
            let h = try NodeHost(config: NodeConfig(nodeID: n, dataDirectory: root + "/n\(n.rawValue)"),
                                 transport: network.transport(for: n), bootstrap: bootstrap)
            network.register(n, h)
            h.start()
            hosts.append(h)
        }
        defer { for h in hosts { h.stop() } }
        let deadline = Date().addingTimeInterval(20)
        var leader: NodeHost?
        while leader == nil && Date() < deadline {
            leader = hosts.first { $0.isLeader(of: .system) }
            if leader == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        guard let host = leader else { throw ProposalError.notLeader(leaderHint: .none) }
        _ = try await host.oracleRevisions(count: 1)  // first block, session started
        let blocksBefore = host.store(for: .system)?.currentRevision ?? 0
        let end = Date().addingTimeInterval(seconds)
        let results = await withTaskGroup(of: ([Double], Int).self) { group in
            for _ in 0..<callers {
                group.addTask {
                    var latencies: [Double] = []
                    var failures = 0
                    while Date() < end {
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        do {
                            _ = try await host.oracleRevisions(count: 1)
                            latencies.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
                        } catch {
                            failures += 1
                        }
                    }
                    return (latencies, failures)
                }
            }
            var all: ([Double], Int) = ([], 0)
            for await r in group {
                all.0 += r.0
                all.1 += r.1
            }
            return all
        }
        let sorted = results.0.sorted()
        func pct(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        return OracleReport(callers: callers, seconds: seconds, calls: sorted.count, failures: results.1,
                            p50Ms: pct(0.5), p99Ms: pct(0.99),
                            blocks: (host.store(for: .system)?.currentRevision ?? 0) - blocksBefore)
    }
}
