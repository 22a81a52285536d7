#if canImport(Glibc)
import Glibc
#endif

/// A cluster the harness can drive and hurt: real server processes answering the etcd API,
/// their peer links behind fault-injecting proxies. Implemented for etcd and for Flotilla.
public protocol ClusterUnderTest: Sendable {
    /// "etcd" or "flotilla".
    var kind: String { get }
    var nodes: [NodeProcess] { get }
    /// Client endpoints, "host:port", in node order.
    var clientEndpoints: [String] { get }
    /// One proxy in front of each node's peer port (others dial the proxy).
    var peerProxies: [TCPProxy] { get }
    /// Where data and logs live.
    var directory: String { get }

    /// Starts every node and waits until the cluster accepts writes.
    func start() async throws
    /// Waits until a put succeeds on some endpoint.
    func waitWritable(timeout: Duration) async throws
    /// Restarts a node that was killed (same data directory).
    func restart(node: Int) async throws
    /// The node leading the most (etcd: the one) Raft groups, if known.
    func leaderNode() async -> Int?
    /// Moves leadership away from the current leader; returns a description.
    /// `pick` (from the run's seed) varies the choice where the cluster has several.
    func transferLeadership(pick: Int) async throws -> String
    /// Stops every node and proxy.
    func shutdown() async
}

/// Why a cluster could not be brought up; the run fails at once with the node logs kept.
public struct ClusterStartError: Error, CustomStringConvertible {
    public var description: String

    /// Throws when a node process has exited while the cluster should be running, with the
    /// tail of its log (a refused config, a port in use, a crash at start-up).
    public static func checkAlive(_ nodes: [NodeProcess]) throws {
        for n in nodes where n.hasExited {
            throw ClusterStartError(description: "\(n.name) exited during start-up; log \(n.logPath) ends:\n\(n.logTail())")
        }
    }

    /// Throws when a TCP port the cluster needs is already taken on loopback (another
    /// cluster, another engineer's run): failing here beats a node that silently cannot bind.
    public static func checkPortsFree(_ ports: [Int]) throws {
        var taken = ports.filter { !PortProbe.isFree($0) }
        if taken.contains(where: PortProbe.reclaimFromOrphanedBacktracer) {
            usleep(200_000)
            taken = ports.filter { !PortProbe.isFree($0) }
        }
        if !taken.isEmpty {
            throw ClusterStartError(description: "ports already in use on 127.0.0.1: \(taken) (pick another --base-port)")
        }
    }
}
