public import Base
public import RaftCore
import Synchronization

/// The node's one write-ahead log, shared by every range replica on the node. Owns the
/// segment files under its directory. All ranges' appends and hard states of one poll round
/// go in through one `append` call: one write, one fdatasync (group commit).
///
/// Thread safety: the state lives under one lock (`core`). Appends, garbage collection and
/// `close` are also serialised by a writer lock, and an append holds the core lock only to
/// reserve its place and to publish its records: the write and the fdatasync run outside
/// it, so readers (Raft's storage reads on the poll loop) never wait for the disk.
public final class WriteAheadLog: Sendable {
    private let core: Mutex<WALCore>
    /// Held for a whole append / GC / close: one writer at a time, in order.
    private let writer = Mutex(())
    private let options: WALOptions
    public let directory: String

    /// Reads the core's state (tests).
    func withCoreForTesting<T>(_ body: (WALCore) -> T) -> T { core.withLock { body($0) } }

    private init(core: consuming sending WALCore, directory: String, options: WALOptions) {
        self.core = Mutex(core)
        self.directory = directory
        self.options = options
    }

    /// Opens (creating if needed) the log in `directory` and replays it.
    public static func open(directory: String, options: WALOptions = WALOptions()) throws(WALError)
        -> (WriteAheadLog, WALRecoveryReport)
    {
        var core = WALCore(directory: directory, options: options)
        let report = try core.recover()
        return (WriteAheadLog(core: core, directory: directory, options: options), report)
    }

    /// Durably appends `records` (one write, one fdatasync). When this returns, the records
    /// survive a crash; only then may messages acknowledging them be sent.
    @discardableResult
    public func append(_ records: [WALRecord]) throws(WALError) -> Int {
        try writer.withLock { (_) throws(WALError) -> Int in
            guard let prepared = try core.withLock({ (core) throws(WALError) in try core.prepareAppend(records) })
            else { return 0 }
            let nanos: UInt64
            do throws(WALError) {
                nanos = try WALCore.writeAndSync(prepared, options: options)
            } catch {
                core.withLock { $0.abandon(prepared) }
                throw error
            }
            return core.withLock { $0.publish(prepared, fsyncNanos: nanos) }
        }
    }

    /// Deletes segments no range needs any more (see `WALCore.collectGarbage`). Waits for an
    /// append in progress.
    public func collectGarbage(durableApplied: [RangeID: UInt64]) throws(WALError) -> WALGCReport {
        try writer.withLock { (_) throws(WALError) -> WALGCReport in
            try core.withLock { (core) throws(WALError) in try core.collectGarbage(durableApplied: durableApplied) }
        }
    }

    public func entries(of range: RangeID, from lo: UInt64, to hi: UInt64, maxBytes: UInt64 = .max) throws(StorageError) -> [Entry] {
        try core.withLock { (core) throws(StorageError) in try core.entries(range, lo, hi, maxBytes: maxBytes) }
    }

    /// The term of `index` in a range's log, or nil when outside `[firstIndex - 1, lastIndex]`.
    public func term(of range: RangeID, at index: UInt64) -> UInt64? {
        core.withLock { $0.ranges[range]?.term(at: index) }
    }

    /// `(firstIndex, lastIndex)` of a range's log, or nil for an unknown range.
    public func bounds(of range: RangeID) -> (first: UInt64, last: UInt64)? {
        core.withLock { core in core.ranges[range].map { ($0.firstIndex, $0.lastIndex) } }
    }

    public func hardState(of range: RangeID) -> HardState? {
        core.withLock { $0.ranges[range]?.hardState }
    }

    /// The ranges that have any state in the log.
    public var rangeIDs: [RangeID] {
        core.withLock { $0.ranges.keys.sorted() }
    }

    public var stats: WALStats {
        core.withLock { $0.stats }
    }

    /// Bytes the live segments take on disk (including preallocated space).
    public var diskBytes: Int {
        core.withLock { $0.diskBytes }
    }

    /// Closes the files. Later calls throw `.closed`.
    public func close() {
        writer.withLock { _ in
            core.withLock { core in
                for s in core.segments { s.file.close() }
                core.closed = true
            }
        }
    }
}
