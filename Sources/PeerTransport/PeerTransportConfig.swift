public import Base

/// Settings of a `GRPCPeerTransport`: who this node is, where its peers listen, and the
/// queue, reconnect, keepalive and snapshot throttle parameters. Plain value; owns nothing.
public struct PeerTransportConfig: Sendable {
    /// A peer's peer-port address.
    public struct Address: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
        public var description: String { "\(host):\(port)" }
    }

    public var nodeID: NodeID
    /// Where this node's peer server listens (port 0: any free port, see `listeningPort`).
    public var listen: Address
    /// The other nodes' peer addresses (this node's own entry, if present, is ignored).
    public var peers: [NodeID: Address]
    /// Frames (one per poll-round batch) queued per peer before the oldest is dropped.
    public var sendQueueBatches: Int = 1_024
    /// Reconnect backoff: first delay, cap, and the jitter fraction (± of the delay).
    public var reconnectInitialMs: Int = 50
    public var reconnectMaxMs: Int = 2_000
    public var reconnectJitter: Double = 0.2
    /// Client-side keepalive ping interval and timeout on the peer connections.
    public var keepaliveIntervalMs: Int = 10_000
    public var keepaliveTimeoutMs: Int = 5_000
    /// Server: the minimum ping interval accepted from clients without calls (like etcd's
    /// `--grpc-keepalive-min-time=5s`; the gRPC default answers faster pings with GOAWAY).
    public var keepaliveMinTimeMs: Int = 5_000
    /// Snapshot sending throttle in MB/s (10^6 bytes of compressed chunks); 0 = unlimited.
    public var snapshotMBPerSecond: Double = 64
    /// Largest gRPC message accepted (a big Raft batch, a snapshot chunk).
    public var maxMessageBytes: Int = 64 << 20
    /// Node calls in flight per peer before new ones are refused (as unreachable).
    public var maxCallsInFlight: Int = 65_536
    /// The node call timeouts' granularity: overdue calls are failed at most this often.
    public var callSweepIntervalMs: Int = 20
    /// The longest the deadline sweep sleeps (until the earliest pending deadline, capped
    /// here; also how late a call registered during a sleep with a nearer deadline may fail).
    public var callSweepIdleMs: Int = 200

    public init(nodeID: NodeID, listen: Address, peers: [NodeID: Address]) {
        self.nodeID = nodeID
        self.listen = listen
        self.peers = peers
    }
}
