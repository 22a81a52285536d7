/// etcd's request limits and defaults (embed.Config / etcdserver defaults). Values, no state.
public struct EtcdLimits: Equatable, Sendable {
    /// etcd's `--max-request-bytes`: larger write requests answer "request is too large".
    public var maxRequestBytes: Int = 3 * 512 * 1024
    /// What gRPC accepts on top of `maxRequestBytes` before its own ResourceExhausted.
    public var grpcOverheadBytes: Int = 512 * 1024
    /// etcd's `--max-txn-ops`.
    public var maxTxnOps: Int = 128
    /// etcd's `MaxLeaseTTL`.
    public static let maxLeaseTTL: Int64 = 9_000_000_000
    /// Watchers one Watch stream may hold; creations beyond it are answered canceled.
    public var maxWatchersPerStream: Int = 4096
    /// Watch responses buffered per stream before watchers wait for the client.
    public var watchResponsesBuffered: Int = 128
    /// etcd's watch progress notify interval (10 minutes).
    public var progressNotifyInterval: Duration = .seconds(600)

    public init() {}

    /// The gRPC transport's maximum received message size.
    public var maxReceiveMessageBytes: Int { maxRequestBytes + grpcOverheadBytes }
}
