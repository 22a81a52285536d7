import Foundation
import GRPCCore
import Proto

/// A real etcd cluster (the reference implementation) of `size` members on loopback: client
/// ports base+i, peer listen ports base+10+i, and every member advertises base+20+i, where a
/// `TCPProxy` forwards to its peer port. Owns the processes, proxies and data directories.
public final class EtcdCluster: ClusterUnderTest, Sendable {
    public let kind = "etcd"
    public let nodes: [NodeProcess]
    public let peerProxies: [TCPProxy]
    public let clientEndpoints: [String]
    public let directory: String

    public init(executable: String = "/usr/bin/etcd", size: Int = 3, basePort: Int, directory: String) {
        self.directory = directory
        let cluster = (0..<size).map { "n\($0)=http://127.0.0.1:\(basePort + 20 + $0)" }.joined(separator: ",")
        var nodes: [NodeProcess] = []
        for i in 0..<size {
            let args = [
                "--name", "n\(i)", "--data-dir", "\(directory)/n\(i).etcd",
                "--listen-client-urls", "http://127.0.0.1:\(basePort + i)",
                "--advertise-client-urls", "http://127.0.0.1:\(basePort + i)",
                "--listen-peer-urls", "http://127.0.0.1:\(basePort + 10 + i)",
                "--initial-advertise-peer-urls", "http://127.0.0.1:\(basePort + 20 + i)",
                "--initial-cluster", cluster, "--initial-cluster-token", "robustness-\(basePort)",
                "--initial-cluster-state", "new", "--snapshot-count", "2000",
                "--heartbeat-interval", "100", "--election-timeout", "1000",
                "--experimental-watch-progress-notify-interval", "500ms",
                "--logger", "zap", "--log-outputs", "stderr",
            ]
            nodes.append(NodeProcess(name: "n\(i)", executable: executable, arguments: args, logPath: "\(directory)/n\(i).log"))
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

    public func start() async throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try ClusterStartError.checkPortsFree(clientEndpoints.compactMap { $0.split(separator: ":").last.flatMap { Int($0) } })
        for p in peerProxies { try p.start() }
        for n in nodes { try n.start() }
        try await waitWritable(timeout: .seconds(30))
    }

    public func restart(node: Int) async throws {
        try nodes[node].start()
    }

    /// Waits until a put succeeds on some endpoint.
    public func waitWritable(timeout: Duration) async throws {
        let endpoints = try clientEndpoints.map { try EtcdEndpoint($0) }
        defer { for e in endpoints { e.close() } }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            try ClusterStartError.checkAlive(nodes)
            for e in endpoints {
                var p = Etcdserverpb_PutRequest()
                p.key = Data("robustness/ready".utf8)
                if (try? await e.kv.put(request: .init(message: p), options: EtcdEndpoint.timeout(.seconds(1))) { try $0.message }) != nil {
                    return
                }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw RPCError(code: .unavailable, message: "etcd cluster did not become writable in \(timeout)")
    }

    /// Member ID and leader ID as each reachable member reports them.
    func statuses() async -> [(node: Int, member: UInt64, leader: UInt64)] {
        var out: [(Int, UInt64, UInt64)] = []
        for (i, address) in clientEndpoints.enumerated() where nodes[i].pid != nil {
            guard let e = try? EtcdEndpoint(address) else { continue }
            defer { e.close() }
            if let s = try? await e.maintenance.status(
                request: .init(message: Etcdserverpb_StatusRequest()), options: EtcdEndpoint.timeout(.seconds(1)), onResponse: { try $0.message })
            {
                out.append((i, s.header.memberID, s.leader))
            }
        }
        return out
    }

    public func leaderNode() async -> Int? {
        let s = await statuses()
        guard let leader = s.first(where: { $0.leader != 0 })?.leader else { return nil }
        return s.first { $0.member == leader }?.node
    }

    public func transferLeadership(pick: Int) async throws -> String {
        let s = await statuses()
        guard let leaderID = s.first(where: { $0.leader != 0 })?.leader,
            let leader = s.first(where: { $0.member == leaderID }),
            let target = s.first(where: { $0.member != leaderID })
        else { throw RPCError(code: .unavailable, message: "no leader to move") }
        let e = try EtcdEndpoint(clientEndpoints[leader.node])
        defer { e.close() }
        var r = Etcdserverpb_MoveLeaderRequest()
        r.targetID = target.member
        _ = try await e.maintenance.moveLeader(request: .init(message: r), options: EtcdEndpoint.timeout(.seconds(5))) { try $0.message }
        return "moved leadership n\(leader.node) -> n\(target.node)"
    }

    public func shutdown() async {
        for n in nodes { await n.stop() }
        for p in peerProxies { p.stop() }
    }
}
