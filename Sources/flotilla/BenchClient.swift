import ArgumentParser
import Base
import Foundation
import Server

/// `flotilla bench-client`: a write load through the internal Admin stream (until the etcd
/// API exists): N concurrent writers put random keys with V-byte values for D seconds and
/// the tool prints committed writes/s and latency percentiles.
struct BenchClient: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-client", abstract: "Write load against a running cluster (internal Admin API).")
    @Option(help: "Client endpoints in node-ID order, e.g. 127.0.0.1:2379,127.0.0.1:2380,127.0.0.1:2381.")
    var endpoints: String
    @Option(help: "Concurrent writers.") var writers: Int = 64
    @Option(help: "Value size in bytes.") var valueBytes: Int = 256
    @Option(help: "Load duration in seconds.") var seconds: Double = 10
    @Option(help: "Distinct keys per writer.") var keysPerWriter: Int = 1_000

    func run() async throws {
        var addresses: [NodeID: NodeAddress] = [:]
        for (i, e) in endpoints.split(separator: ",").enumerated() {
            addresses[NodeID(UInt64(i + 1))] = try ServerConfig.address(String(e), "--endpoints")
        }
        let cluster = try ClusterClient(addresses: addresses)
        defer { cluster.close() }
        let value = [UInt8](repeating: 0x61, count: valueBytes)
        let end = ContinuousClock.now + .seconds(seconds)
        let start = ContinuousClock.now
        let results = await withTaskGroup(of: ([Double], Int).self) { group in
            for w in 0..<writers {
                group.addTask {
                    var lat: [Double] = []
                    var failed = 0
                    var i = 0
                    var rng = SystemRandomNumberGenerator()
                    while ContinuousClock.now < end {
                        // Spread keys over the keyspace so every range gets writes.
                        let k = UInt32.random(in: 0...UInt32.max, using: &rng)
                        let key = withUnsafeBytes(of: k.bigEndian) { Array($0) } + Array("-w\(w)-\(i % keysPerWriter)".utf8)
                        i += 1
                        let t0 = ContinuousClock.now
                        do {
                            _ = try await cluster.put(key, value)
                            let d = ContinuousClock.now - t0
                            lat.append(Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) / 1e15)
                        } catch {
                            failed += 1
                        }
                    }
                    return (lat, failed)
                }
            }
            var all: [Double] = []
            var failed = 0
            for await (l, f) in group {
                all += l
                failed += f
            }
            return (all, failed)
        }
        let elapsed = ContinuousClock.now - start
        let secs = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let lat = results.0.sorted()
        func pct(_ p: Double) -> Double { lat.isEmpty ? 0 : lat[min(lat.count - 1, Int(Double(lat.count) * p))] }
        print(String(format: "writes=%d failed=%d seconds=%.1f writes_per_s=%.0f p50_ms=%.2f p99_ms=%.2f",
                     lat.count, results.1, secs, Double(lat.count) / secs, pct(0.5), pct(0.99)))
    }
}
