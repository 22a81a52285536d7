public import Base
public import WAL

/// Counters of one node, read with `NodeHost.metrics`. Plain values; exporting them
/// (Prometheus) is the server's job.
public struct NodeMetrics: Sendable, Equatable {
    /// WAL appends (each one fdatasync) made by poll rounds.
    public var fsyncs: UInt64 = 0
    /// Log entries written by those appends (entries per fsync = entriesSynced / fsyncs).
    public var entriesSynced: UInt64 = 0
    /// Total and last fdatasync duration of the WAL, in nanoseconds.
    public var fsyncNanosTotal: UInt64 = 0
    public var lastFsyncNanos: UInt64 = 0
    /// Per-fsync duration (nanoseconds) and entries-per-fsync histograms of the WAL.
    public var fsyncDuration = WALHistogram(bounds: WALHistogram.fsyncNanosBounds)
    public var entriesPerFsyncHistogram = WALHistogram(bounds: WALHistogram.entriesPerFsyncBounds)
    /// Bytes of live WAL segments on disk.
    public var walDiskBytes: Int = 0
    public var proposals: UInt64 = 0
    public var proposalsFailed: UInt64 = 0
    public var appliedCommands: UInt64 = 0
    /// Entries applied from a held Ready before its sync (they were durable before it;
    /// `NodeHost.applyDurableCommitted`, session 12).
    public var appliedBeforeSync: UInt64 = 0
    /// Where the time of the writes this node led went, summed over the writes settled here
    /// (nanoseconds, session 13): [0] taken by the loop → appended to the log (waiting for
    /// an oracle revision), [1] appended → its entry handed to the WAL sync thread (waiting
    /// for the range's Ready in flight), [2] handed off → durable here (the sync queue and
    /// fdatasync), [3] durable → applied (the followers' acknowledgements and the Ready that
    /// carries the commit). `putStageWrites` writes.
    public var putStageNanos: [UInt64] = [0, 0, 0, 0]
    public var putStageWrites: UInt64 = 0
    public var pollRounds: UInt64 = 0
    /// ReadIndex requests the poll loop handed to Raft: one per range per round with
    /// linearizable reads or closes (each one heartbeat round unless served at once).
    public var readIndexRequests: UInt64 = 0
    /// Oracle confirmations the poll loop ran itself (this node leads the system range:
    /// one ReadIndex on range 1 for a round's revision wants, `NodeHost+LoopOracle`).
    public var loopOracleRounds: UInt64 = 0
    /// Oracle and lease-table calls (batches of them) served under the oracle lease, with no
    /// confirmation round of their own (`OracleLease`).
    public var oracleLeaseServes: UInt64 = 0
    /// Record batches the poll loop handed to the WAL sync thread (one per round that had
    /// anything to persist; the thread may write several in one fdatasync: compare `fsyncs`).
    public var walBatchesHandedOff: UInt64 = 0
    /// WAL appends that waited, after a durable report, for the loop's round that took it
    /// (`WALSyncer`, `NodeConfig.syncWaitsForLoop`; refreshed on tick rounds).
    public var walAppendsGated: UInt64 = 0
    /// Leader Readies held back a round for another batch's sync (`alignLeaderReadies`).
    public var alignHeldReadies: UInt64 = 0
    /// Readies whose only record was a hard state with a moved commit index (no entries,
    /// snapshot, term or vote): written with the next synced batch, finished at once.
    public var unsyncedHardStates: UInt64 = 0
    /// Applied index of each replica on the node.
    public var appliedIndex: [RangeID: UInt64] = [:]
    public var leaderCount: Int = 0
    public var quiescedCount: Int = 0
    public var rangeCount: Int = 0
    public var snapshotsSent: UInt64 = 0
    public var snapshotsReceived: UInt64 = 0
    /// Compressed bytes on the wire.
    public var snapshotBytesSent: UInt64 = 0
    public var snapshotBytesReceived: UInt64 = 0
    public var mvccCommits: UInt64 = 0
    public var walSegmentsDeleted: UInt64 = 0
    /// Oracle fetches the poll loop started for write revisions.
    public var revisionFetches: UInt64 = 0
    /// Fetched revisions left unused (at or below the closed revision, or leadership lost).
    public var revisionsDiscarded: UInt64 = 0
    /// Writes applied at a revision not above the range's last one, proposed again.
    public var revisionRetries: UInt64 = 0
    /// Proposals answered from, or joined to, an earlier one with the same request ID.
    public var proposalsDeduplicated: UInt64 = 0
    /// Committed entries not applied because their request ID had applied within the
    /// de-duplication window (a second entry of one client write).
    public var duplicateEntriesSkipped: UInt64 = 0

    public init() {}

    public var entriesPerFsync: Double { fsyncs == 0 ? 0 : Double(entriesSynced) / Double(fsyncs) }
}
