import Glibc
public import Base
public import Placement

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
    /// The data file's `PageFileOptions.allocationSlackPercent`: the free share of the file
    /// kept so a commit's pages can be written in contiguous runs (0: smallest file).
    public var allocationSlackPercent: Int = 20
    /// Ranges quiesce after this many idle ticks with every follower caught up.
    public var quiesceAfterTicks: Int = 3
    /// Proposals without a result after this long fail with `.timeout`.
    public var proposalTimeoutMs: Int = 5_000
    /// Snapshot data is streamed in chunks of about this many (uncompressed) bytes.
    public var snapshotChunkBytes: Int = 1 << 20
    /// Where write revisions and read points come from. nil: the cluster's revision
    /// oracle (the system range's leader, local or remote: `NodeHost.freshRevisions`).
    /// Tests and single-process setups share one `InMemoryRevisionOracle` between nodes.
    public var revisionSource: (any RevisionSource)? = nil
    /// How often the node closes the ranges that have feed consumers (resolved revisions).
    /// Events reach watchers only up to the resolved revision, so this bounds the
    /// put→event latency (100 ms gave a p50 of 143 ms); each close is one fresh revision
    /// for all such ranges plus one ReadIndex per range.
    public var closeIntervalMs: Int = 30
    /// The de-duplication window, in log entries per range: a command whose request ID
    /// applied within the range's last `dedupWindowEntries` entries is not applied again
    /// (decided at apply time, identically on every replica). A restarted replica rebuilds
    /// the memory from the entries its WAL still holds (see docs/node-runtime.md).
    public var dedupWindowEntries: Int = 10_000
    /// Whether a Ready whose only record is a hard state with a moved commit index waits
    /// for an fdatasync of its own (as before session 8). false (the default): it is
    /// written with the next synced batch and finished at once, as etcd does
    /// (`Ready.mustSync`); see `NodeHost.handleReadies`. A measurement/escape switch.
    public var syncCommitOnlyHardStates = false
    /// Whether the linearizable reads and closes of one range that reach the poll loop in
    /// one round share one ReadIndex request (one heartbeat round; `NodeHost.handleReads`).
    /// false: one ReadIndex per read (as before session 9). A measurement switch; its
    /// default is true unless the environment sets FLOTILLA_READ_INDEX_PER_READ=1.
    public var batchReadIndex = !environmentFlag("FLOTILLA_READ_INDEX_PER_READ")
    /// Whether a replica's feeds count the revision of its last applied write as resolved at
    /// once (`ResolvedRevisions.noteApplied`), so a watch within one range gets an event as
    /// soon as it applies instead of at the next closer round (up to `closeIntervalMs` later).
    /// false: only closes resolve (as before session 10). A measurement switch; its default is
    /// true unless the environment sets FLOTILLA_RESOLVE_BY_CLOSER_ONLY=1.
    public var resolveOnApply = !environmentFlag("FLOTILLA_RESOLVE_BY_CLOSER_ONLY")
    /// Whether a feed consumer may ask for a range to be closed before the closer's next tick
    /// (`NodeHost.demandClose`: a watch spanning ranges holds events of one range until the
    /// others are resolved past them). false: such events wait for the tick, up to
    /// `closeIntervalMs` (as before session 11). A measurement switch; its default is true
    /// unless the environment sets FLOTILLA_NO_CLOSE_ON_DEMAND=1.
    public var closeOnDemand = !environmentFlag("FLOTILLA_NO_CLOSE_ON_DEMAND")
    /// The closer's on-demand rounds start at least this long after the previous one began:
    /// demands arriving meanwhile share the next round. Bounds their cost (each round is a
    /// fresh revision and a ReadIndex or close call per demanded range) to at most one round
    /// per gap, at up to one gap of added latency. FLOTILLA_CLOSE_ON_DEMAND_GAP_MS overrides it
    /// (measurements).
    public var closeOnDemandGapMs = environmentInt("FLOTILLA_CLOSE_ON_DEMAND_GAP_MS") ?? 10
    /// Whether the poll loop serves oracle revisions itself while this node leads the
    /// system range (write revisions and `freshRevision` read points: one ReadIndex on range
    /// 1 per round's wants, no task hops; `NodeHost+LoopOracle`). false: every fetch takes
    /// the async path (as before session 11). A measurement switch; its default is true
    /// unless the environment sets FLOTILLA_ORACLE_BY_TASKS=1.
    public var oracleInLoop = !environmentFlag("FLOTILLA_ORACLE_BY_TASKS")
    /// Leader placement (`NodeHost+Placement`): the policy and its driver's timings. The
    /// node runtime's default is `none` (leaders stay where elections put them); `flotilla
    /// serve` sets it from `[placement]`.
    public var placement = PlacementSettings()
    /// Whether a held Ready's committed entries that its replica held durably before it are
    /// applied at once instead of after the Ready's own sync (`NodeHost.applyDurableCommitted`,
    /// session 12). false (the default): every committed entry of a held Ready waits for its
    /// sync, as before. Off until a quiet-machine A/B shows a gain and a crash-point
    /// robustness batch ran with it (docs/bench.md, session 12: no difference measurable on
    /// the loaded machine); the environment's FLOTILLA_APPLY_BEFORE_SYNC=1 turns it on.
    public var applyBeforeSync = environmentFlag("FLOTILLA_APPLY_BEFORE_SYNC")
    /// Whether the WAL sync thread, after reporting a batch durable, waits for the poll
    /// loop's round that took the report before it starts the next append (`WALSyncer`,
    /// session 13): the replicas that batch released then share the next fdatasync with the
    /// batches queued meanwhile. Off by default (session 14: 10–25% fewer fdatasyncs per put
    /// with 8 ranges, but no change in CPU per put, latency or throughput on the test machine;
    /// docs/bench.md); the environment's FLOTILLA_SYNC_WAITS_FOR_LOOP=1 turns it on. Off, each
    /// append starts as soon as the last ended.
    public var syncWaitsForLoop = environmentFlag("FLOTILLA_SYNC_WAITS_FOR_LOOP")
    /// Whether a user range leader's Ready is held back (at most `alignHoldMaxMs`) while
    /// another WAL batch of the node is syncing, so the leaders of a node take their
    /// Readies in the same round after each sync (session 14 experiment; env
    /// FLOTILLA_ALIGN_LEADERS=1). Off: with `syncWaitsForLoop` it halved throughput under heavy
    /// load (docs/bench.md, session 14).
    public var alignLeaderReadies = environmentFlag("FLOTILLA_ALIGN_LEADERS")
    public var alignHoldMaxMs = 5
    /// Whether the system range's leader holds a lease on its oracle leadership: after a
    /// confirmation round acknowledged by a quorum, oracle and lease-table calls skip their
    /// own round for `oracleLeaseNs` from the round's start (`OracleLease`; architecture.md
    /// §11). A restarted replica of range 1 refuses votes for an election timeout
    /// (`RaftConfig.holdVotesAfterRestart`) whatever this switch says, so nodes whose switches
    /// differ are safe together. Every node of a cluster must use the same `tickIntervalMs`
    /// and `electionTicks`. `[system] oracleLease` in `flotilla serve`; the
    /// environment's FLOTILLA_ORACLE_LEASE=0/1 overrides the default here (A/B runs).
    public var oracleLease = environmentSwitch("FLOTILLA_ORACLE_LEASE") ?? true
    /// Test hook: called on the poll-loop thread at the start of each iteration, before it
    /// takes the mailbox (a test may block in it to stop the loop, as SIGSTOP or a starved
    /// thread would). nil in production.
    public var beforeLoopIteration: (@Sendable () -> Void)? = nil
    /// Test hook: called on the node's WAL sync thread before each WAL append (a test may
    /// block in it to hold a sync in progress). nil in production.
    public var beforeWALSync: (@Sendable () -> Void)? = nil

    public init(nodeID: NodeID, dataDirectory: String) {
        self.nodeID = nodeID
        self.dataDirectory = dataDirectory
    }
}

/// The environment variable `name` as a non-negative integer (nil when unset or not one).
func environmentInt(_ name: String) -> Int? {
    guard let v = getenv(name), let n = Int(String(cString: v)), n >= 0 else { return nil }
    return n
}

/// The environment variable `name` as a switch: "1" on, "0" off, nil when unset or other.
func environmentSwitch(_ name: String) -> Bool? {
    guard let v = getenv(name) else { return nil }
    switch String(cString: v) {
    case "1": return true
    case "0": return false
    default: return nil
    }
}

extension NodeConfig {
    /// How long an oracle lease lasts from its confirmation round's start: `electionTicks - 2`
    /// ticks (a voter's stickiness lasts at least `electionTicks - 1` ticks after it got the
    /// round's heartbeat; one tick of margin for clock rates). 0: no lease.
    var oracleLeaseNs: UInt64 {
        guard oracleLease, electionTicks > 2, tickIntervalMs > 0 else { return 0 }
        return UInt64(electionTicks - 2) * UInt64(tickIntervalMs) * 1_000_000
    }
}

/// Whether the environment variable `name` is set to "1" (measurement switches).
func environmentFlag(_ name: String) -> Bool {
    guard let v = getenv(name) else { return false }
    return String(cString: v) == "1"
}
