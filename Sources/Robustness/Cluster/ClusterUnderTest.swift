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
    func transferLeadership() async throws -> String
    /// Stops every node and proxy.
    func shutdown() async
}
