public import Base

/// Settings of one `NodeHost`. Times are wall-clock milliseconds; Raft timeouts are in ticks.
public struct NodeConfig: Sendable {
    public var nodeID: NodeID
    /// The data directory (`wal/`, `data.db`, `IDENTITY`); created with mode 0700.
    public var dataDirectory: String
    public var tickIntervalMs: Int = 100
    public var electionTicks: Int = 10
    public var heartbeatTicks: Int = 1
    /// MVCC stores are committed (with their applied index) at least this often…
    public var applyCommitIntervalMs: Int = 50
    /// …or after this many applied commands, whichever comes first.
    public var applyCommitMaxOps: Int = 1_000
    /// How often the WAL's garbage collector runs.
    public var walGCIntervalMs: Int = 1_000
    public var walSegmentBytes: Int = 64 << 20
    /// Ranges quiesce after this many idle ticks with every follower caught up.
    public var quiesceAfterTicks: Int = 3
    /// Proposals without a result after this long fail with `.timeout`.
    public var proposalTimeoutMs: Int = 5_000
    /// Snapshot data is streamed in chunks of about this many (uncompressed) bytes.
    public var snapshotChunkBytes: Int = 1 << 20
    /// Revision assignment for write commands.
    public var revisionAssigner: any RevisionAssigner = ApplyTimeRevisionAssigner()

    public init(nodeID: NodeID, dataDirectory: String) {
        self.nodeID = nodeID
        self.dataDirectory = dataDirectory
    }
}
