#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// One node's data file: a copy-on-write B+tree of named buckets in fixed-size pages.
///
/// Owns the file descriptor (flock'ed exclusively), the read-only mapping, the current meta
/// and the freelist. Concurrency: any number of `view` transactions run concurrently, each
/// on the snapshot that was committed when it began; `update` transactions run one at a
/// time and never block readers. Pages freed by a commit are reused only once no open read
/// transaction can still see them.
///
/// Durability: a commit pwrites all new pages, fdatasyncs, then pwrites the meta page
/// (slot `txid % 2`) and fdatasyncs again. If any step fails the handle enters the failed
/// state and refuses further use; reopening finds the last committed state.
///
/// Page bytes handed to closures are valid only inside the transaction closure.
public final class PageFile: Sendable {
    public let path: String
    /// The file's page size.
    public let pageSize: Int
    let options: PageFileOptions
    let fd: Int32
    let io: any PageFileIO
    let writerLock = WriterLock()
    let shared: Mutex<SharedState>
    let writer: Mutex<WriterState>
    /// Page buffers of the writer's commits (reused from one commit to the next).
    let pageBuffers: PageBufferPool

    /// State read by every transaction start (guarded by `shared`).
    struct SharedState {
        var meta: Meta
        var mapping: Mapping
        /// How many times the file was mapped again because it outgrew the mapping.
        var remaps = 0
        /// Open read transactions by snapshot txid.
        var readers = ReaderCounts()
        var closed = false
        var failure: String?
        var fdOpen = true
        /// Bucket roots found by `withLatestValue` for the snapshot `meta.txid`.
        var latestRoots = LatestBucketRoots()

        func checkUsable() throws(PageStoreError) {
            if closed { throw .closed }
            if let failure { throw .failed(reason: failure) }
        }
    }

    /// State owned by the writer (guarded by `writer`, only touched under `writerLock`).
    struct WriterState {
        var freelist: Freelist
        var fileSize: Int
        /// Data pages (and contiguous runs of them) written by commits since the file was opened.
        var pagesWritten = 0
        var runsWritten = 0
    }

    /// Largest key for a page size: a quarter page minus element overhead, so that every
    /// node with two entries fits in one page.
    public static func maxKeySize(pageSize: Int) -> Int { min(pageSize / 4 - 32, Int(UInt16.max)) }

    /// The largest key this file accepts.
    public var maxKeySize: Int { Self.maxKeySize(pageSize: pageSize) }

    private init(path: String, options: PageFileOptions, fd: Int32, io: any PageFileIO, meta: Meta,
                 mapping: Mapping, freelist: Freelist, fileSize: Int) {
        self.path = path
        self.pageSize = meta.pageSize
        self.options = options
        self.fd = fd
        self.io = io
        self.shared = Mutex(SharedState(meta: meta, mapping: mapping))
        self.writer = Mutex(WriterState(freelist: freelist, fileSize: fileSize))
        self.pageBuffers = PageBufferPool(pageSize: meta.pageSize)
    }

    deinit {
        let open = shared.withLock { $0.fdOpen }
        if open { _ = flock(fd, LOCK_UN); _ = closeDescriptor(fd) }
    }

    /// Opens (creating if missing or empty) the file at `path`.
    public static func open(path: String, options: PageFileOptions = .init()) throws(PageStoreError) -> PageFile {
        guard PageFileOptions.isValidPageSize(options.pageSize) else { throw .invalidPageSize(options.pageSize) }
        try createIfNeeded(path: path, options: options)
        let fd = openDescriptor(path, O_RDWR | O_CLOEXEC, 0o644)
        if fd < 0 { throw .io(operation: "open", path: path, errno: errno) }
        do throws(PageStoreError) {
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                throw errno == EWOULDBLOCK ? PageStoreError.locked(path: path) : .io(operation: "flock", path: path, errno: errno)
            }
            #if DEBUG || FLOTILLA_CRASH_POINTS
            var io: any PageFileIO = POSIXFileIO(fd: fd, path: path, recordUnsynced: recordsUnsyncedWrites)
            if let make = options.ioFactory { io = make(fd, path) }
            #else
            let io: any PageFileIO = POSIXFileIO(fd: fd, path: path)
            #endif
            let size = try io.size()
            let meta = try readMeta(io: io, path: path, preferredPageSize: options.pageSize)
            // With deferred meta syncs the newest meta may not be durable yet (a previous
            // process died before syncing it): make it durable before building on it.
            if options.deferMetaSync && options.durable { try io.sync() }
            let needed = Int(meta.pageCount) * meta.pageSize
            if size < needed { throw PageStoreError.fileTruncated(path: path, expectedBytes: needed, actualBytes: size) }
            let mapBytes = roundUp(max(options.initialMapBytes, 2 * size), to: meta.pageSize)
            let mapping = try Mapping(fd: fd, length: mapBytes, pageSize: meta.pageSize, path: path)
            if meta.flags & ~Meta.knownFlags != 0 {
                throw PageStoreError.unsupportedFormat(
                    path: path, reason: "meta flags 0x\(String(meta.flags, radix: 16)) (this version knows 0x\(String(Meta.knownFlags, radix: 16)))")
            }
            var freeExtents: [FreeExtent] = []
            let snapshot = Snapshot(mapping: mapping, meta: meta, verifyAlways: false)
            if !meta.storesFreelist {
                // No stored freelist (session 12): every page no tree reaches is free.
                freeExtents = try FreelistRebuild.extents(of: snapshot)
            } else if meta.freelist != 0 {
                let page = try snapshot.page(meta.freelist)
                freeExtents = try Freelist.decode(page, id: meta.freelist, pageCount: meta.pageCount, pageSize: meta.pageSize)
            }
            return PageFile(path: path, options: options, fd: fd, io: io, meta: meta, mapping: mapping,
                            freelist: Freelist(extents: freeExtents), fileSize: size)
        } catch {
            _ = closeDescriptor(fd)
            throw error
        }
    }

    static func roundUp(_ n: Int, to multiple: Int) -> Int { (n + multiple - 1) / multiple * multiple }

    /// Creates an empty PageStore file at `path` if there is no file or an empty one. The new
    /// file is written and synced under a temporary name and renamed into place (then the
    /// directory is synced), so a crash during creation never leaves a half-written file.
    private static func createIfNeeded(path: String, options: PageFileOptions) throws(PageStoreError) {
        var st = stat()
        if stat(path, &st) == 0 {
            if st.st_size > 0 { return }
        } else if errno != ENOENT {
            throw .io(operation: "stat", path: path, errno: errno)
        }
        let temporary = path + ".init"
        let fd = openDescriptor(temporary, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw .io(operation: "open", path: temporary, errno: errno) }
        defer { _ = closeDescriptor(fd) }
        try initialize(io: POSIXFileIO(fd: fd, path: temporary), pageSize: options.pageSize, options: options)
        if rename(temporary, path) != 0 { throw .io(operation: "rename", path: temporary, errno: errno) }
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let dirFD = openDescriptor(directory, O_RDONLY | O_CLOEXEC, 0)
        if dirFD < 0 { throw .io(operation: "open", path: directory, errno: errno) }
        defer { _ = closeDescriptor(dirFD) }
        if fsync(dirFD) != 0 { throw .io(operation: "fsync", path: directory, errno: errno) }
    }

    /// Writes the two meta pages of an empty file (txid 0 in slot 0, txid 1 in slot 1).
    private static func initialize(io: any PageFileIO, pageSize: Int, options: PageFileOptions) throws(PageStoreError) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 * pageSize, alignment: 4096)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        for txid in 0..<2 {
            Meta(pageSize: pageSize, directory: 0, freelist: 0, pageCount: 2, txid: UInt64(txid))
                .encode(into: buffer.baseAddress! + txid * pageSize)
        }
        try fault(options, .initWriteMeta)
        try io.write(UnsafeRawBufferPointer(buffer), at: 0)
        try fault(options, .initSync)
        try io.sync()
    }

    /// Reads both meta pages and returns the valid one with the highest txid.
    private static func readMeta(io: any PageFileIO, path: String, preferredPageSize: Int) throws(PageStoreError) -> Meta {
        let maxPage = 65536
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: maxPage, alignment: 4096)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        _ = try io.read(into: buffer, at: 0)
        let first = Meta.decode(UnsafeRawBufferPointer(buffer), slot: 0)
        var problem0 = "", problem1 = "no valid copy found"
        var candidates: [Meta] = []
        switch first {
        case .success(let m): candidates.append(m)
        case .failure(let why): problem0 = why.description
        }
        // Slot 1 lives at offset pageSize; try the page size meta 0 names, else every valid one.
        var sizes = [preferredPageSize] + [1024, 2048, 4096, 8192, 16384, 32768, 65536]
        if case .success(let m) = first { sizes = [m.pageSize] }
        for p in sizes {
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            _ = try io.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<p]), at: p)
            switch Meta.decode(UnsafeRawBufferPointer(buffer), slot: 1) {
            case .success(let m) where m.pageSize == p:
                candidates.append(m)
                problem1 = ""
            case .success: problem1 = "page size mismatch"
            case .failure(let why): if p == sizes[0] { problem1 = why.description }
            }
            if problem1.isEmpty { break }
        }
        guard let best = candidates.max(by: { $0.txid < $1.txid }) else {
            throw .noValidMeta(path: path, meta0: problem0, meta1: problem1)
        }
        return best
    }

    @inline(__always)
    static func fault(_ options: PageFileOptions, _ point: FaultPoint) throws(PageStoreError) {
        #if DEBUG || FLOTILLA_CRASH_POINTS
        if let hook = options.faultHook { try hook(point) }
        #endif
    }

    // MARK: transactions

    /// Runs `body` on a consistent snapshot of the last committed state. Any number of
    /// read transactions may run concurrently with each other and with a writer.
    public func view<R>(_ body: (borrowing ReadTransaction) throws -> R) throws -> R {
        let snapshot = try shared.withLock { s throws(PageStoreError) -> Snapshot in
            try s.checkUsable()
            s.readers.add(s.meta.txid)
            return Snapshot(mapping: s.mapping, meta: s.meta, verifyAlways: options.verification == .always)
        }
        let scope = TransactionScope()
        defer {
            scope.open = false
            let txid = snapshot.meta.txid
            shared.withLock { s in s.readers.remove(txid) }
        }
        return try body(ReadTransaction(snapshot: snapshot, scope: scope))
    }

    /// Runs `body` as the only write transaction; commits when it returns, rolls back when
    /// it throws (nothing is written then).
    public func update<R>(_ body: (inout WriteTransaction) throws -> R) throws -> R {
        writerLock.lock()
        defer { writerLock.unlock() }
        let snapshot = try shared.withLock { s throws(PageStoreError) -> Snapshot in
            try s.checkUsable()
            return Snapshot(mapping: s.mapping, meta: s.meta, verifyAlways: options.verification == .always)
        }
        let context = WriteContext(snapshot: snapshot, maxValueSize: options.maxValueBytes, buffers: pageBuffers)
        defer { context.open = false }
        var txn = WriteTransaction(context: context)
        let result = try body(&txn)
        try commit(context)
        return result
    }

    /// Forces everything committed so far to stable storage (one fdatasync). Only needed
    /// with `deferMetaSync`, where the last commit's meta is otherwise synced by the next commit.
    public func sync() throws(PageStoreError) {
        writerLock.lock()
        defer { writerLock.unlock() }
        try shared.withLock { s throws(PageStoreError) in try s.checkUsable() }
        try io.sync()
    }

    /// Closes the file. Running read transactions finish on their snapshot; later calls throw `.closed`.
    public func close() {
        writerLock.lock()
        defer { writerLock.unlock() }
        if options.deferMetaSync && options.durable {
            let usable = shared.withLock { !$0.closed && $0.failure == nil }
            if usable { try? io.sync() }  // make the last meta durable
        }
        shared.withLock { s in
            guard !s.closed else { return }
            s.closed = true
            // Unlock explicitly: the mapping keeps the open file description (and with it
            // the flock) alive until the last reader drops it.
            if s.fdOpen { _ = flock(fd, LOCK_UN); _ = closeDescriptor(fd); s.fdOpen = false }
        }
    }

    #if DEBUG || FLOTILLA_CRASH_POINTS
    /// Test-only: what a process death does to this handle: the descriptor is closed and the
    /// lock released, nothing is flushed or written.
    /// Test-only: the newest committed meta.
    var currentMetaForTesting: Meta { shared.withLock { $0.meta } }

    func abandonForTesting() {
        shared.withLock { s in
            s.closed = true
            if s.fdOpen { _ = flock(fd, LOCK_UN); _ = closeDescriptor(fd); s.fdOpen = false }
        }
    }
    #endif

    /// Current statistics (sizes in pages).
    public var stats: PageFileStats {
        let (meta, readers, remaps, mapBytes) = shared.withLock {
            ($0.meta, $0.readers.total, $0.remaps, $0.mapping.length)
        }
        let (free, pending, fileSize, written, runs) = writer.withLock {
            ($0.freelist.freeCount, $0.freelist.pendingCount, $0.fileSize, $0.pagesWritten, $0.runsWritten)
        }
        return PageFileStats(txid: meta.txid, pageSize: pageSize, pageCount: Int(meta.pageCount), freePages: free,
                             pendingPages: pending, fileBytes: fileSize, openReadTransactions: readers,
                             mapBytes: mapBytes, remaps: remaps, pagesWritten: written, runsWritten: runs)
    }
}

/// A point-in-time summary of a `PageFile`.
public struct PageFileStats: Sendable, Equatable {
    /// The txid of the last committed transaction.
    public var txid: UInt64
    public var pageSize: Int
    /// High-water mark: pages in use or free.
    public var pageCount: Int
    /// Pages allocatable now.
    public var freePages: Int
    /// Pages freed but possibly still seen by an open read transaction.
    public var pendingPages: Int
    public var fileBytes: Int
    public var openReadTransactions: Int
    /// Length of the current mapping.
    public var mapBytes: Int
    /// How many times the file was mapped again because it outgrew the mapping.
    public var remaps: Int
    /// Data pages written by commits since the file was opened (meta pages not counted).
    public var pagesWritten: Int
    /// Contiguous runs those pages formed, counted per commit (one bio each at writeback).
    public var runsWritten: Int
}

/// Marks whether the transaction a value was handed to is still running; every access
/// checks it so a transaction smuggled out of its closure traps instead of reading reused pages.
final class TransactionScope {
    var open = true
}

/// How many read transactions are open on each snapshot txid. Almost always one or two
/// txids are in use, so a short array scanned linearly beats hashing on every `view`.
struct ReaderCounts {
    private var entries: [(txid: UInt64, count: Int)] = []

    mutating func add(_ txid: UInt64) {
        for i in entries.indices where entries[i].txid == txid {
            entries[i].count += 1
            return
        }
        entries.append((txid, 1))
    }

    mutating func remove(_ txid: UInt64) {
        for i in entries.indices where entries[i].txid == txid {
            entries[i].count -= 1
            if entries[i].count == 0 { entries.swapAt(i, entries.count - 1); entries.removeLast() }
            return
        }
    }

    /// The oldest snapshot still read, if any.
    var oldest: UInt64? { entries.lazy.map(\.txid).min() }

    var total: Int { entries.reduce(0) { $0 + $1.count } }
}
