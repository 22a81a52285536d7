public import Base
import Foundation
import LZ4
import MVCC
import PageStore

/// Benchmarks of the node runtime over an in-process 3-node cluster (`LocalNetwork`, real
/// WAL and data files under a temporary directory). Meant to be called from FlotillaBench;
/// owns only the temporary cluster it builds and removes.
public enum NodeBenchmark {
    /// Results of one write-load run.
    public struct WriteReport: Sendable, CustomStringConvertible {
        public var ranges: Int
        public var writers: Int
        public var seconds: Double
        public var writes: Int
        public var failures: Int
        public var p50Ms: Double
        public var p99Ms: Double
        /// Per node: fsyncs per second and entries per fsync.
        public var fsyncsPerSecond: [Double]
        public var entriesPerFsync: [Double]
        /// Process CPU (user + system) per 1,000 committed writes, all three nodes together.
        public var cpuSecondsPer1000: Double

        public var writesPerSecond: Double { Double(writes) / seconds }

        public var description: String {
            let f = fsyncsPerSecond.map { String(format: "%.0f", $0) }.joined(separator: "/")
            let e = entriesPerFsync.map { String(format: "%.1f", $0) }.joined(separator: "/")
            return String(format: "ranges=%d writers=%d: %.0f writes/s, p50 %.2f ms, p99 %.2f ms, fsyncs/s per node %@, entries/fsync %@, CPU s per 1k writes %.3f, failures %d",
                          ranges, writers, writesPerSecond, p50Ms, p99Ms, f, e, cpuSecondsPer1000, failures)
        }
    }

    /// Runs `writers` concurrent writers (256-byte values, writer i on range i mod `ranges`)
    /// for `seconds` against a fresh 3-node cluster.
    public static func writeLoad(ranges: Int, writers: Int = 64, seconds: Double = 10,
                                 valueBytes: Int = 256) async throws -> WriteReport {
        let root = NSTemporaryDirectory() + "flotilla-bench-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let network = LocalNetwork(seed: 1)
        let oracle = InMemoryRevisionOracle()  // one process: every node shares the counter
        let bootstrap = BootstrapConfig(nodes: [NodeID(1), NodeID(2), NodeID(3)], rangeCount: ranges)
        var hosts: [NodeID: NodeHost] = [:]
        for n in bootstrap.nodes {
            var config = NodeConfig(nodeID: n, dataDirectory: root + "/n\(n.rawValue)")
            config.revisionSource = oracle
            let h = try NodeHost(config: config, transport: network.transport(for: n), bootstrap: bootstrap)
            network.register(n, h)
            h.start()
            hosts[n] = h
        }
        defer { for h in hosts.values { h.stop() } }
        let frozen = hosts
        let descriptors = bootstrap.descriptors
        func leader(_ r: RangeID) -> NodeHost? { frozen.values.first { $0.isLeader(of: r) } }
        let electDeadline = Date().addingTimeInterval(20)
        while descriptors.contains(where: { leader($0.rangeID) == nil }) && Date() < electDeadline {
            try await Task.sleep(for: .milliseconds(50))
        }

        let before = hosts.mapValues(\.metrics)
        let cpuBefore = processCPUSeconds()
        let start = Date()
        let end = start.addingTimeInterval(seconds)
        let value = [UInt8](repeating: 0x61, count: valueBytes)
        let results = await withTaskGroup(of: ([Double], Int).self) { group in
            for w in 0..<writers {
                group.addTask {
                    let d = descriptors[w % descriptors.count]
                    let prefix = d.startKey.isEmpty ? [UInt8(1)] : d.startKey
                    var latencies: [Double] = []
                    var failures = 0
                    var i = 0
                    // The leader is looked up again only after a failure (the lookup waits
                    // for the host's poll round, which would distort latencies).
                    var target: NodeHost?
                    while Date() < end {
                        i += 1
                        let key = prefix + Array("w\(w)-\(i % 1000)".utf8)
                        if target == nil { target = leader(d.rangeID) }
                        guard let h = target else {
                            failures += 1
                            try? await Task.sleep(for: .milliseconds(10))
                            continue
                        }
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        do {
                            _ = try await h.propose(.put(PutRequest(key: key, value: value)), to: d.rangeID)
                            latencies.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
                        } catch {
                            failures += 1
                            target = nil
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
        let elapsed = Date().timeIntervalSince(start)
        let cpu = processCPUSeconds() - cpuBefore
        let after = hosts.mapValues(\.metrics)
        let lat = results.0.sorted()
        func pct(_ p: Double) -> Double { lat.isEmpty ? 0 : lat[min(lat.count - 1, Int(Double(lat.count) * p))] }
        var fsyncRates: [Double] = []
        var perFsync: [Double] = []
        for n in bootstrap.nodes {
            let f = Double(after[n]!.fsyncs - before[n]!.fsyncs)
            let e = Double(after[n]!.entriesSynced - before[n]!.entriesSynced)
            fsyncRates.append(f / elapsed)
            perFsync.append(f == 0 ? 0 : e / f)
        }
        return WriteReport(ranges: ranges, writers: writers, seconds: elapsed, writes: lat.count,
                           failures: results.1, p50Ms: pct(0.5), p99Ms: pct(0.99), fsyncsPerSecond: fsyncRates,
                           entriesPerFsync: perFsync,
                           cpuSecondsPer1000: lat.isEmpty ? 0 : cpu / Double(lat.count) * 1000)
    }

    /// Snapshot production and installation of one range holding about `megabytes` of
    /// values: LZ4-compressing the segment stream, then decompressing and ingesting it.
    public static func snapshotTransfer(megabytes: Int, valueBytes: Int = 1024) throws -> String {
        let root = NSTemporaryDirectory() + "flotilla-snapbench-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let src = try PageStoreBackend.open(path: root + "/src.db")
        let dst = try PageStoreBackend.open(path: root + "/dst.db")
        defer {
            src.file.close()
            dst.file.close()
        }
        let store = try MVCCStore.create(backend: src, rangeID: RangeID(2), start: [], end: nil)
        var rng = SeededGenerator(seed: 42)
        let count = megabytes << 20 / valueBytes
        var rev: Int64 = 0
        for i in 0..<count {
            rev += 1
            // Half random, half repeated bytes: compressible like typical JSON/protobuf values.
            var v = [UInt8](repeating: 0x20, count: valueBytes)
            for j in 0..<(valueBytes / 2) { v[j] = UInt8.random(in: 0...255, using: &rng) }
            _ = try store.put(PutRequest(key: Array("key-\(i)".utf8), value: v), revision: rev)
            if i % 10_000 == 9_999 { try store.commit(appliedIndex: UInt64(i + 1)) }
        }
        try store.commit(appliedIndex: UInt64(count))
        let t0 = Date()
        let (chunks, _, compressed) = try NodeHost.compressSegment(store, chunkBytes: 1 << 20)
        let t1 = Date()
        let stream = try NodeHost.decompressSnapshot(chunks)
        let logical = stream.count
        let tDecompressed = Date()
        _ = try MVCCStore.ingestSnapshot(backend: dst, chunks: [stream])
        let t2 = Date()
        let mb = Double(logical) / Double(1 << 20)
        let cmb = Double(compressed) / Double(1 << 20)
        return String(format: "snapshot of %.1f MiB logical / %.1f MiB compressed: produce+compress %.2f s (%.1f MiB/s logical), decompress %.2f s (%.1f MiB/s compressed), ingest %.2f s (%.1f MiB/s logical)",
                      mb, cmb, t1.timeIntervalSince(t0), mb / t1.timeIntervalSince(t0),
                      tDecompressed.timeIntervalSince(t1), cmb / tDecompressed.timeIntervalSince(t1),
                      t2.timeIntervalSince(tDecompressed), mb / t2.timeIntervalSince(tDecompressed))
    }

    /// CPU used by the process over `seconds` while `ranges` ranges sit quiesced on a
    /// 3-node in-process cluster, as a percentage of one core (all three nodes together).
    public static func idleCost(ranges: Int, seconds: Double = 30) async throws -> String {
        let root = NSTemporaryDirectory() + "flotilla-idle-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let network = LocalNetwork(seed: 1)
        let oracle = InMemoryRevisionOracle()  // one process: every node shares the counter
        let bootstrap = BootstrapConfig(nodes: [NodeID(1), NodeID(2), NodeID(3)], rangeCount: ranges)
        var hosts: [NodeHost] = []
        for n in bootstrap.nodes {
            var config = NodeConfig(nodeID: n, dataDirectory: root + "/n\(n.rawValue)")
            config.revisionSource = oracle
            let h = try NodeHost(config: config, transport: network.transport(for: n), bootstrap: bootstrap)
            network.register(n, h)
            h.start()
            hosts.append(h)
        }
        defer { for h in hosts { h.stop() } }
        let deadline = Date().addingTimeInterval(120)
        while hosts.contains(where: { $0.metrics.quiescedCount < ranges }) && Date() < deadline {
            try await Task.sleep(for: .milliseconds(200))
        }
        let quiesced = hosts.map { $0.metrics.quiescedCount }
        let cpu0 = processCPUSeconds()
        try await Task.sleep(for: .seconds(seconds))
        let cpu = processCPUSeconds() - cpu0
        return String(format: "%d ranges (quiesced per node: %@) on 3 in-process nodes: %.2f%% of one core over %.0f s (all 3 nodes)",
                      ranges, quiesced.map(String.init).joined(separator: "/"), cpu / seconds * 100, seconds)
    }

    static func processCPUSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec)
            + Double(u.ru_stime.tv_usec) / 1e6
    }
}
