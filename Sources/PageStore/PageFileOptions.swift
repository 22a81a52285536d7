import Base

/// Options for opening a `PageFile`.
public struct PageFileOptions: Sendable {
    /// Page size for a new file (power of two, 1 KiB … 64 KiB). An existing file keeps its own.
    public var pageSize: Int = 4096
    /// Share of the file (in percent of its pages) that may stay free so that commits can
    /// write their pages in contiguous runs: the allocator takes free extents of at least
    /// `PageAllocator.minRun` pages (longest first) or the file's tail, and fills shorter
    /// holes only while more than this share is free. 0 fills every hole first (the file
    /// stays smallest; pages of a random-key commit are then mostly scattered). 0 … 100
    /// (larger values act as 100: short holes are never filled).
    public var allocationSlackPercent: Int {
        get { Int(slackPercentStored) }
        set { slackPercentStored = UInt8(clamping: min(100, max(0, newValue))) }
    }
    /// Whether commits fdatasync (data, then meta). `false` is for benchmarks only: a crash
    /// may then lose or tear recent commits.
    public var durable: Bool = true
    /// One fdatasync per commit instead of two (LMDB's "no meta sync"): the meta page is
    /// written but not synced; the next commit's data sync (or `close`) makes it durable.
    /// A crash can then lose the last commit, never integrity: pages of the previous state
    /// are not reused until the meta after it is durable. Only meaningful with `durable`.
    public var deferMetaSync: Bool = false
    /// When page checksums are verified on read.
    public var verification: ChecksumVerification = .oncePerPage
    /// Whether every commit writes the freelist run (the format before session 12). `false`
    /// (the default, like etcd's bbolt `NoFreelistSync`): commits write no freelist and mark
    /// their meta `freelistNotStored`; opening the file rebuilds the free pages by walking
    /// every tree. Either setting opens files written with the other.
    public var writesFreelist: Bool = false
    /// `allocationSlackPercent` (one byte, so that the options keep their size).
    private var slackPercentStored: UInt8 = 20
    /// Initial size of the read-only mapping in bytes (rounded up to pages; at least twice
    /// the file). The mapping is replaced by a larger one when the file outgrows it.
    public var initialMapBytes: Int = 64 << 20
    /// The file grows by at least this many bytes at a time (and at least by 1/8 of its size).
    public var growthStepBytes: Int = 4 << 20
    /// Largest value accepted by `put` (values that would make a leaf element larger than half
    /// a page are stored in blob runs of contiguous pages).
    public var maxValueBytes: Int = 64 << 20

    public init() {}

    /// When a page's checksum is verified.
    public enum ChecksumVerification: Sendable {
        /// The first time the page is read after it was written or the file was opened
        /// (a shared bitmap remembers verified pages; cheap).
        case oncePerPage
        /// On every access (slow; for paranoid tools and measurements).
        case always
    }

    static func isValidPageSize(_ p: Int) -> Bool { p >= 1024 && p <= 65536 && p & (p - 1) == 0 }

    #if DEBUG || FLOTILLA_CRASH_POINTS
    /// Test-only: called at every named fault point before the I/O it names; throwing
    /// simulates a crash there. Compiled only in debug builds.
    var faultHook: (@Sendable (FaultPoint) throws(PageStoreError) -> Void)? = nil
    /// Test-only: replaces the POSIX file layer (e.g. with one that can drop unsynced writes).
    var ioFactory: (@Sendable (Int32, String) -> any PageFileIO)? = nil
    /// Test-only: called instead of the process crash at each `Base.CrashPoint` of a commit
    /// (`pagestore.*`), with the file layer; throwing ends the commit there.
    var crashPointHook: (@Sendable (CrashPoint, any PageFileIO) throws(PageStoreError) -> Void)? = nil
    #endif
}

/// Named crash points of a commit, in the order they are reached. Only reachable in
/// debug builds through `PageFileOptions.faultHook`.
enum FaultPoint: String, Sendable, CaseIterable {
    case initWriteMeta, initSync
    case growFile
    case writeData
    case syncData
    case writeMeta
    case syncMeta
}
