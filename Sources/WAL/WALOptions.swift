public import Base

/// Named places in the WAL's write path where a test can simulate a crash. The hook is
/// consulted only in debug and crash-point test builds (`#if DEBUG || FLOTILLA_CRASH_POINTS`);
/// release builds compile the calls away.
public enum WALFaultPoint: String, Sendable, CaseIterable {
    case beforeWrite, afterWriteBeforeSync, afterSync
    case beforeSeal, afterSealBeforeCreate, afterSegmentCreate
    case beforeSegmentDelete
}

/// Settings of the write-ahead log. Defaults as in `Config/flotilla.toml`.
public struct WALOptions: Sendable {
    /// Size at which a segment is sealed and a new one started (a larger batch gets a
    /// segment of its own).
    public var segmentBytes: Int
    /// Preallocate segments with `posix_fallocate`.
    public var preallocate: Bool
    /// How far ahead of the log's end an append writes zeros (0: never). Overwriting blocks
    /// that already hold data makes each append's fdatasync write only its data: appending
    /// into never-written (or `posix_fallocate`d, i.e. unwritten) blocks also makes ext4 write
    /// the block map and the inode on every fdatasync. One zero write per this many bytes.
    public var zeroAheadBytes: Int
    /// Newest entries kept decoded in memory per range; older ones are read from disk.
    public var cacheBytesPerRange: Int
    /// Test-only crash simulation: throwing from the hook aborts the operation at that point.
    public var faultHook: (@Sendable (WALFaultPoint) throws(WALError) -> Void)?

    public init(segmentBytes: Int = 64 << 20, preallocate: Bool = true, zeroAheadBytes: Int = 1 << 20,
                cacheBytesPerRange: Int = 1 << 20,
                faultHook: (@Sendable (WALFaultPoint) throws(WALError) -> Void)? = nil) {
        self.segmentBytes = segmentBytes
        self.preallocate = preallocate
        self.zeroAheadBytes = max(0, zeroAheadBytes)
        self.cacheBytesPerRange = cacheBytesPerRange
        self.faultHook = faultHook
    }
}

/// What recovery found.
public struct WALRecoveryReport: Sendable, Equatable {
    public var segments: Int
    public var records: Int
    /// A torn final write that was cut off: the file and the offset it was truncated at.
    public var tornTail: (path: String, offset: Int)?
    public static func == (a: WALRecoveryReport, b: WALRecoveryReport) -> Bool {
        a.segments == b.segments && a.records == b.records && a.tornTail?.path == b.tornTail?.path
            && a.tornTail?.offset == b.tornTail?.offset
    }
}

/// Counters for metrics (fsyncs per second, entries per fsync, fsync latency histograms).
public struct WALStats: Sendable, Equatable {
    public var fsyncs: UInt64 = 0
    public var entriesSynced: UInt64 = 0
    public var bytesWritten: UInt64 = 0
    /// Zeros written ahead of the log's end (`WALOptions.zeroAheadBytes`) and how many
    /// appends wrote them.
    public var bytesZeroed: UInt64 = 0
    public var zeroWrites: UInt64 = 0
    public var fsyncNanosTotal: UInt64 = 0
    public var lastFsyncNanos: UInt64 = 0
    /// Every fdatasync's duration in nanoseconds (`WALHistogram.fsyncNanosBounds`).
    public var fsyncDuration = WALHistogram(bounds: WALHistogram.fsyncNanosBounds)
    /// Entries written by each fdatasync (`WALHistogram.entriesPerFsyncBounds`).
    public var entriesPerFsync = WALHistogram(bounds: WALHistogram.entriesPerFsyncBounds)
    public var segmentsCreated: UInt64 = 0
    public var segmentsDeleted: UInt64 = 0
    public var liveSegments: Int = 0
}

/// The outcome of one garbage collection pass.
public struct WALGCReport: Sendable, Equatable {
    /// Sequence numbers of the deleted segments.
    public var deletedSegments: [UInt64] = []
    /// Ranges keeping the oldest remaining segment alive, with the index each must
    /// durably apply (or compact past) to release it.
    public var holdingBack: [RangeID: UInt64] = [:]
}
