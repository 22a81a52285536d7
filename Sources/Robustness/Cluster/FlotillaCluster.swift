import Foundation
import GRPCCore
import Proto

#if canImport(Glibc)
import Glibc
#endif

/// A Flotilla cluster of `size` `flotilla serve --config` processes on loopback with configs
/// written here: client ports base+i, peer listen ports base+10+i, metrics base+30+i; the
/// peer list every node dials names the proxies at base+20+i. The node with most leaders
/// comes from each node's /status on its metrics port. Owns processes, proxies and data.
public final class FlotillaCluster: ClusterUnderTest, Sendable {
    public let kind = "flotilla"
    public let nodes: [NodeProcess]
    public let peerProxies: [TCPProxy]
    public let clientEndpoints: [String]
    public let directory: String
    let basePort: Int
    let size: Int
    let ranges: Int
    /// The `flotilla` binary the nodes run (`flotctl` is expected beside it).
    let executable: String
    /// `[storage]` overrides (nil: the server's defaults).
    let storage: FlotillaStorageTuning?

    public init(
        executable: String, size: Int = 3, ranges: Int = 8, basePort: Int, directory: String, environment: [String: String] = [:],
        storage: FlotillaStorageTuning? = nil
    ) {
        self.storage = storage
        self.directory = directory
        self.basePort = basePort
        self.size = size
        self.ranges = ranges
        self.executable = executable
        var nodes: [NodeProcess] = []
        for i in 0..<size {
            nodes.append(
                NodeProcess(
                    name: "node-\(i + 1)", executable: executable, arguments: ["serve", "--config", "\(directory)/node-\(i + 1).toml"],
                    logPath: "\(directory)/node-\(i + 1).log", environment: environment))
        }
        self.nodes = nodes
        let processes = nodes
        clientEndpoints = (0..<size).map { "127.0.0.1:\(basePort + $0)" }
        let owners: @Sendable () -> [Int: Int32] = {
            var m: [Int: Int32] = [:]
            for (i, n) in processes.enumerated() { if let p = n.pid { m[i] = p } }
            return m
        }
        peerProxies = (0..<size).map { TCPProxy(node: $0, listenPort: basePort + 20 + $0, targetPort: basePort + 10 + $0, pids: owners) }
    }

    /// The TOML config of node `i` (0-based), in the shape of Config/node1.toml.
    public func config(node i: Int) -> String {
        let peers = (0..<size).map { "\"\($0 + 1)=127.0.0.1:\(basePort + 20 + $0)\"" }.joined(separator: ", ")
        return """
            [node]
            nodeID = \(i + 1)
            dataDir = "\(directory)/node-\(i + 1)"

            [listen]
            clientAddress = "127.0.0.1:\(basePort + i)"
            peerAddress = "127.0.0.1:\(basePort + 10 + i)"
            metricsAddress = "127.0.0.1:\(basePort + 30 + i)"

            [cluster]
            peers = [\(peers)]
            rangeCount = \(ranges)

            """ + (storage.map { "\n" + $0.toml } ?? "")
    }

    public func start() async throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for i in 0..<size {
            try config(node: i).write(toFile: "\(directory)/node-\(i + 1).toml", atomically: true, encoding: .utf8)
        }
        try ClusterStartError.checkPortsFree((0..<size).flatMap { i in [0, 10, 20, 30].map { basePort + $0 + i } })
        for p in peerProxies { try p.start() }
        for n in nodes { try n.start() }
        try await waitWritable(timeout: .seconds(30))
    }

    public func restart(node: Int) async throws { try nodes[node].start() }

    public func waitWritable(timeout: Duration) async throws {
        let endpoints = try clientEndpoints.map { try EtcdEndpoint($0) }
        defer { for e in endpoints { e.close() } }
        let deadline = ContinuousClock.now + timeout
        var last = ""
        while ContinuousClock.now < deadline {
            try ClusterStartError.checkAlive(nodes)
            for e in endpoints {
                var p = Etcdserverpb_PutRequest()
                p.key = Data("robustness/ready".utf8)
                do {
                    _ = try await e.kv.put(request: .init(message: p), options: EtcdEndpoint.timeout(.seconds(1))) { try $0.message }
                } catch {
                    last = "\(error)"
                    continue
                }
                // A write went through: now every range must have a leader too.
                try await waitAllRangesLed(until: deadline)
                return
            }
            try await Task.sleep(for: .milliseconds(300))
        }
        throw RPCError(code: .unavailable, message: "flotilla cluster did not accept a write in \(timeout): \(last)")
    }

    /// Waits until every replica of every range on every running node knows a leader (the
    /// metrics port's /status), so traffic does not start while some of the cluster's ranges
    /// are still electing (under load that took seconds, and the run's ops/s floor measured
    /// the election instead of the cluster).
    func waitAllRangesLed(until deadline: ContinuousClock.Instant) async throws {
        var pending: [String] = []
        while ContinuousClock.now < deadline {
            try ClusterStartError.checkAlive(nodes)
            pending = []
            for i in 0..<size where nodes[i].pid != nil {
                pending += Self.leaderlessRanges(status: HTTPGet.body(port: basePort + 30 + i, path: "/status"), node: i + 1)
            }
            if pending.isEmpty { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw RPCError(code: .unavailable, message: "flotilla cluster: ranges without a leader at start: \(pending.joined(separator: ", "))")
    }

    /// The ranges a node's /status body reports without a leader (all of them, as one entry,
    /// when the body is missing or unreadable).
    static func leaderlessRanges(status body: String?, node: Int) -> [String] {
        guard let body, let start = body.firstIndex(of: "{"),
            let json = try? JSONSerialization.jsonObject(with: Data(body[start...].utf8)) as? [String: Any],
            let ranges = json["ranges"] as? [[String: Any]]
        else { return ["node \(node): no status"] }
        return ranges.compactMap { r in
            (r["leader"] as? Int ?? 0) == 0 ? "node \(node) range \(r["rangeID"] as? Int ?? -1)" : nil
        }
    }

    public func leaderNode() async -> Int? {
        // The lowest-numbered node among those leading most ranges.
        let counts = await leaderCounts()
        return counts.keys.sorted().max { counts[$0]! < counts[$1]! || (counts[$0]! == counts[$1]! && $0 > $1) }
    }

    /// How many ranges each running node leads (its /status `leaderCount`), by node index.
    public func leaderCounts() async -> [Int: Int] {
        var counts: [Int: Int] = [:]
        for i in 0..<size where nodes[i].pid != nil {
            guard let body = HTTPGet.body(port: basePort + 30 + i, path: "/status"),
                let range = body.range(of: "\"leaderCount\":"),
                let n = Int(body[range.upperBound...].prefix { $0.isNumber })
            else { continue }
            counts[i] = n
        }
        return counts
    }

    /// "node i: sent/received" snapshot counters of the running nodes (/metrics), for the
    /// schedule of a snapshot crash-point run whose point was not reached.
    public func snapshotCounters() -> String {
        func value(_ body: String, _ name: String) -> String {
            guard let line = body.split(separator: "\n").first(where: { $0.hasPrefix(name + " ") }) else { return "?" }
            return String(line.split(separator: " ").last ?? "?")
        }
        return (0..<size).compactMap { i -> String? in
            guard nodes[i].pid != nil, let body = HTTPGet.body(port: basePort + 30 + i, path: "/metrics") else { return nil }
            return "node \(i): sent \(value(body, "flotilla_snapshots_sent_total")) received \(value(body, "flotilla_snapshots_received_total"))"
        }.joined(separator: ", ")
    }

    public func shutdown() async {
        for n in nodes { await n.stop() }
        for p in peerProxies { p.stop() }
    }
}

/// A minimal blocking HTTP/1.0 GET on loopback (the metrics port's /status).
enum HTTPGet {
    static func body(port: Int, path: String) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var tv = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = TCPProxy.loopback(port: port)
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard ok == 0 else { return nil }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else { return nil }
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            data += buffer[0..<n]
        }
        let text = String(decoding: data, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return nil }
        return String(text[split.upperBound...])
    }
}
