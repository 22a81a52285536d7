#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Base
import MVCC
import PageStore

/// `flotilla-bench storage`: the MVCC store over a PageStore file (release build).
/// Prints: put throughput (batches committed per file transaction), point reads at the
/// latest revision, range scans, reopen (index rebuild) time, index memory per key, and the
/// file size after rewriting every key N times with compaction vs after writing once.
struct StorageBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage", abstract: "MVCC + PageStore benchmark: puts, reads, scans, reopen, memory, file size.")

    @Option(help: "Number of keys (16-byte keys).") var keys = 1_000_000
    @Option(help: "Value size in bytes.") var valueBytes = 256
    @Option(help: "Puts per commit (one file transaction each).") var batch = 1_000
    @Option(help: "Times every key is written for the file-size figure.") var rounds = 10
    @Option(help: "Point reads to time.") var reads = 1_000_000
    @Option(help: "Keys per range scan.") var scanKeys = 1_000
    @Option(help: "Scan this many times the key count in total (0: no scans).") var scanPasses = 1
    @Option(help: "Data file path (deleted first and at the end).") var path = "/tmp/flotilla-bench-storage.db"
    @Flag(help: "Skip fdatasync on commit (not durable).") var noSync = false
    @Flag(help: "Write keys in ascending order instead of random order.") var sequential = false
    @Option(help: "While rewriting, compact every this many batches (0: 10 times per round).") var compactEvery = 1
    @Flag(help: "Keep the data file at the end (with --rounds 1 it holds the keys once, for --reads-only).") var keepFile = false
    @Option(help: "PageFileOptions.allocationSlackPercent (free share of the file kept for contiguous page runs; default: the option's default).") var slackPercent: Int?
    @Flag(help: "PageFileOptions.writesFreelist: every commit writes the freelist run (the format before session 12).") var writesFreelist = false
    @Flag(help: "After the reopen, time the point reads and scans again over the rebuilt index (same process, same file).") var readsAfterReopen = false
    @Flag(help: "Put records through MVCC's write buffer (WriteBufferedBackend, session 13).") var writeBuffer = false
    @Option(help: "With --write-buffer: least records buffered before a flush cycle starts.") var flushThreshold = WriteBufferOptions().flushThreshold
    @Option(help: "With --write-buffer: a cycle starts at this share of the records tree's size (if above --flush-threshold; 0: the threshold alone).") var flushFraction = WriteBufferOptions().flushFraction
    @Option(help: "With --write-buffer: least records a commit moves while a cycle runs.") var flushMinChunk = WriteBufferOptions().minChunk
    @Flag(help: "Open the existing file at --path (written by a run with the same --keys, --sequential and --keep-file), rebuild the index, then time only point reads and scans.") var readsOnly = false

    func run() throws {
        var options = PageFileOptions()
        options.durable = !noSync
        if let slackPercent { options.allocationSlackPercent = slackPercent }
        options.writesFreelist = writesFreelist
        let ids = (0..<keys).map { sequential ? Self.sequentialKey($0) : Self.key($0) }
        if readsOnly {
            try runReads(ids, options: options)
            return
        }
        unlink(path)
        defer { if !keepFile { unlink(path) } }
        let value = [UInt8](repeating: 0x61, count: valueBytes)
        say("storage bench: \(keys) keys x \(valueBytes) B values, 16 B keys, batch \(batch), durable \(!noSync), \(sequential ? "ascending" : "random") key order")

        var backend = try PageStoreBackend.open(path: path, options: options)
        let anonBefore = Self.rssAnonBytes()
        var mvcc = try mvccBackend(backend)
        var store = try MVCCStore.create(backend: mvcc, rangeID: RangeID(2), start: [], end: nil)
        var rev: Int64 = 1
        var applied: UInt64 = 0

        // Puts, committed every `batch`.
        var t0 = Self.now()
        var c0 = Self.cpu()
        let s0 = Self.systemCPU()
        var longestCommit = 0.0
        for (i, k) in ids.enumerated() {
            rev += 1
            _ = try store.put(PutRequest(key: k, value: value), revision: rev)
            if (i + 1) % batch == 0 || i == ids.count - 1 {
                applied += 1
                let tc = Self.now()
                try store.commit(appliedIndex: applied)
                longestCommit = max(longestCommit, Self.now() - tc)
            }
        }
        var dt = Self.now() - t0
        var dc = Self.cpu() - c0
        let ds = Self.systemCPU() - s0
        say("puts:            " + rates(keys, dt, dc, "puts"))
        say("  put phase CPU: \(fmt(dc * 1e6 / Double(keys), 2)) µs per put, of which kernel \(fmt(ds * 1e6 / Double(keys), 2)) µs")
        say(writeLine(backend.file.stats, puts: keys, since: nil))
        say("  longest commit: \(fmt(longestCommit * 1e3, 1)) ms wall" + bufferLine(mvcc))
        let indexBytes = Self.rssAnonBytes() - anonBefore
        let onceBytes = backend.file.stats.fileBytes

        say("  heap:          \(Self.hugePagesLine())")
        var rng = SeededGenerator(seed: 1)
        try timeReads(store, ids, &rng)

        // Reopen: rebuild the index from the file.
        backend.file.close()
        store = try MVCCStore.create(backend: InMemoryBackend(), rangeID: RangeID(9), start: [], end: nil)  // drop the old index
        let anonBeforeReopen = Self.rssAnonBytes()
        t0 = Self.now()
        c0 = Self.cpu()
        backend = try PageStoreBackend.open(path: path, options: options)
        mvcc = try mvccBackend(backend)
        store = try MVCCStore.open(backend: mvcc, rangeID: RangeID(2))
        dt = Self.now() - t0
        dc = Self.cpu() - c0
        // A second copy of the index built while the first is alive: its RssAnon delta is
        // the index alone (freed memory of the old index cannot be reused for it).
        Self.trimHeap()
        let anonBeforeCopy = Self.rssAnonBytes()
        let copy = try MVCCStore.open(backend: mvcc, rangeID: RangeID(2))
        Self.trimHeap()  // memory the open used only transiently (a write buffer's merge) is not index
        let rebuiltBytes = Self.rssAnonBytes() - anonBeforeCopy
        precondition(copy.indexedKeyCount == keys)
        _ = anonBeforeReopen
        precondition(store.indexedKeyCount == keys)
        say("reopen+rebuild:  \(fmt(dt, 2)) s wall, \(fmt(dc, 2)) CPU s for \(keys) keys")
        say("index memory:    \(fmt(Double(indexBytes) / Double(keys), 1)) B/key after puts, \(fmt(Double(rebuiltBytes) / Double(keys), 1)) B/key for a rebuilt index (RssAnon delta / keys, heap trimmed first)")
        if readsAfterReopen {
            say("reads over the rebuilt index (same process):")
            var again = SeededGenerator(seed: 1)
            try timeReads(store, ids, &again)
        }

        // Rewrite every key `rounds - 1` more times, compacting after each batch.
        let every = compactEvery > 0 ? compactEvery : max(1, keys / batch / 10)
        var batches = 0
        t0 = Self.now()
        c0 = Self.cpu()
        for _ in 1..<max(1, rounds) {
            for (i, k) in ids.enumerated() {
                rev += 1
                _ = try store.put(PutRequest(key: k, value: value), revision: rev)
                if (i + 1) % batch == 0 || i == ids.count - 1 {
                    batches += 1
                    if batches % every == 0 { try store.compact(rev) }
                    applied += 1
                    try store.commit(appliedIndex: applied)
                }
            }
        }
        if store.compactedRevision < rev { try store.compact(rev) }
        for _ in 0..<3 {
            applied += 1
            try store.commit(appliedIndex: applied)
        }
        dt = Self.now() - t0
        dc = Self.cpu() - c0
        let afterBytes = backend.file.stats.fileBytes
        if rounds > 1 { say(writeLine(backend.file.stats, puts: keys * (rounds - 1), since: nil)) }
        say("rewrite+compact: " + rates(keys * (rounds - 1), dt, dc, "puts") + " (\(rounds - 1) rounds, compaction every \(every) batches)")
        say("file size:       \(fmt(Double(onceBytes) / 1048576, 1)) MiB once, \(fmt(Double(afterBytes) / 1048576, 1)) MiB after \(rounds) writes per key + compaction (\(fmt(Double(afterBytes) / Double(onceBytes), 2))x)")
        backend.file.close()
    }

    /// The MVCC backend over `file`: through a write buffer with `--write-buffer`.
    func mvccBackend(_ file: PageStoreBackend) throws -> any MVCCBackend {
        guard writeBuffer else { return file }
        let options = WriteBufferOptions(
            flushThreshold: flushThreshold, flushFraction: flushFraction, minChunk: flushMinChunk, buffersPuts: writeBuffer)
        return try WriteBufferedBackend(inner: file, options: options)
    }

    /// The write buffer's state (with `--write-buffer`).
    func bufferLine(_ backend: any MVCCBackend) -> String {
        guard let wb = backend as? WriteBufferedBackend else { return "" }
        return ", buffer \(wb.bufferedRecords) records\(wb.flushing ? " (cycle running)" : "")"
    }

    /// `--reads-only`: the read phases over an existing file.
    func runReads(_ ids: [[UInt8]], options: PageFileOptions) throws {
        say("storage bench (reads only): \(path), \(keys) keys, \(sequential ? "ascending" : "random") key order")
        let t0 = Self.now()
        let c0 = Self.cpu()
        let backend = try PageStoreBackend.open(path: path, options: options)
        let store = try MVCCStore.open(backend: try mvccBackend(backend), rangeID: RangeID(2))
        precondition(store.indexedKeyCount == keys, "the file holds \(store.indexedKeyCount) keys, not --keys \(keys)")
        say("open+rebuild:    \(fmt(Self.now() - t0, 2)) s wall, \(fmt(Self.cpu() - c0, 2)) CPU s")
        say("  heap:          \(Self.hugePagesLine())")
        var rng = SeededGenerator(seed: 1)
        try timeReads(store, ids, &rng)
        backend.file.close()
    }

    /// Point reads at the latest revision (random keys), then ascending and descending range
    /// scans of `scanKeys` keys from random starting keys.
    func timeReads(_ store: MVCCStore, _ ids: [[UInt8]], _ rng: inout SeededGenerator) throws {
        var found = 0
        var dt = 0.0
        var dc = 0.0
        // Point reads at the latest revision, random keys (--reads 0: none). Only the Range
        // calls are timed: each block's requests are built first, each with its own fresh
        // (warm) key buffer as a gRPC decode hands it over, so the clock does not include
        // the bench's key choice or a retain of a cold key array from `ids` (session 8's
        // profile: 5.6% of the point-read samples).
        var block: [RangeRequest] = []
        block.reserveCapacity(Self.readBlock)
        var done = 0
        while done < reads {
            block.removeAll(keepingCapacity: true)
            for _ in 0..<min(Self.readBlock, reads - done) {
                let k = ids[Int.random(in: 0..<ids.count, using: &rng)].withUnsafeBufferPointer { [UInt8]($0) }
                block.append(RangeRequest(key: k))
            }
            let t0 = Self.now()
            let c0 = Self.cpu()
            for r in block { found += try store.range(r).kvs.count }
            dt += Self.now() - t0
            dc += Self.cpu() - c0
            done += block.count
        }
        precondition(found == reads)
        if reads > 0 { say("point reads:     " + rates(reads, dt, dc, "reads")) }
        if scanPasses <= 0 { return }

        // Range scans of `scanKeys` keys from random starting keys.
        // The scan bounds come from the keys in order (sorted before the clock starts).
        let sorted = ids.sorted { $0.lexicographicallyPrecedes($1) }
        var scanned = 0
        var t0 = Self.now()
        var c0 = Self.cpu()
        while scanned < keys * scanPasses {
            // A key range holding `scanKeys` keys (etcd counts every key of the range, so an
            // unbounded range with a limit would cost time proportional to the whole tail).
            let i = Int.random(in: 0..<sorted.count, using: &rng)
            let end = i + scanKeys < sorted.count ? sorted[i + scanKeys] : [0]
            scanned += try store.range(RangeRequest(key: sorted[i], rangeEnd: end)).kvs.count
        }
        dt = Self.now() - t0
        dc = Self.cpu() - c0
        say("range scans:     " + rates(scanned, dt, dc, "keys") + " (\(scanKeys) keys per scan)")

        // The same scans in descending key order (etcd's SortOrder DESCEND on the key).
        scanned = 0
        t0 = Self.now()
        c0 = Self.cpu()
        while scanned < keys * scanPasses {
            let i = Int.random(in: 0..<sorted.count, using: &rng)
            let end = i + scanKeys < sorted.count ? sorted[i + scanKeys] : [0]
            var r = RangeRequest(key: sorted[i], rangeEnd: end)
            r.sortOrder = .descend
            scanned += try store.range(r).kvs.count
        }
        dt = Self.now() - t0
        dc = Self.cpu() - c0
        say("descending scans: " + rates(scanned, dt, dc, "keys") + " (\(scanKeys) keys per scan)")
    }

    /// Data pages and contiguous runs written per put (the allocator's effect on the kernel's
    /// work: writeback submits one bio per run).
    func writeLine(_ s: PageFileStats, puts: Int, since: PageFileStats?) -> String {
        let pages = s.pagesWritten - (since?.pagesWritten ?? 0)
        let runs = s.runsWritten - (since?.runsWritten ?? 0)
        let n = Double(max(1, puts))
        return "  page writes:   \(fmt(Double(pages) / n, 3)) pages per put, \(fmt(Double(runs) / n, 3)) runs per put (\(fmt(Double(pages) / Double(max(1, runs)), 2)) pages per run); file \(s.pageCount) pages, \(s.freePages) free"
    }

    /// Point reads per timed block (requests are built between blocks, off the clock).
    static let readBlock = 1_024

    /// Prints a line and flushes it at once (figures appear as they are measured).
    func say(_ line: String) {
        print(line)
        fflush(nil)
    }

    /// `x` with `decimals` digits after the point (no Foundation).
    func fmt(_ x: Double, _ decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let n = Int((x * scale).rounded())
        if decimals == 0 { return "\(n)" }
        let whole = n / Int(scale), frac = abs(n % Int(scale))
        let f = String(frac)
        return "\(whole).\(String(repeating: "0", count: decimals - f.count))\(f)"
    }

    /// 16 bytes: "k" and the zero-padded decimal id (ascending order).
    static func sequentialKey(_ i: Int) -> [UInt8] {
        let digits = Array(String(i).utf8)
        return [0x6b] + [UInt8](repeating: 0x30, count: 15 - digits.count) + digits
    }

    /// 16 bytes: the hex form of a mixed 64-bit id (keys arrive in random order).
    static func key(_ i: Int) -> [UInt8] {
        var z = UInt64(i) &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let hex = Array("0123456789abcdef".utf8)
        return (0..<16).map { hex[Int((z >> (60 - 4 * UInt64($0))) & 0xF)] }
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// CPU seconds used by this process (all threads): the machine is shared, so throughput
    /// per CPU second is printed next to wall-clock throughput.
    static func cpu() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Kernel CPU seconds of this process so far (`getrusage`: system time of all threads).
    static func systemCPU() -> Double {
        var u = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
        return Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
    }

    func rates(_ n: Int, _ wall: Double, _ cpu: Double, _ unit: String) -> String {
        "\(fmt(Double(n) / wall, 0)) \(unit)/s wall (\(fmt(wall, 2)) s), \(fmt(Double(n) / cpu, 0)) \(unit)/s per CPU second"
    }

    /// Returns freed heap memory to the OS (glibc `malloc_trim`, looked up dynamically) so
    /// that the next RssAnon delta counts new allocations only.
    static func trimHeap() {
        guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
        typealias Trim = @convention(c) (Int) -> Int32
        _ = unsafeBitCast(sym, to: Trim.self)(0)
    }

    /// Anonymous memory and how much of it sits in transparent huge pages (the MVCC index's
    /// block chunks are advised for them; whether the kernel finds huge pages varies from run
    /// to run and changes what an index walk costs in TLB misses), from /proc/self/smaps_rollup.
    static func hugePagesLine() -> String {
        guard let f = fopen("/proc/self/smaps_rollup", "r") else { return "no smaps_rollup" }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 256)
        var anon = 0, huge = 0
        while fgets(&line, 256, f) != nil {
            let s = String(cString: line)
            let kb = Int(s.split(separator: " ").dropFirst().first { !$0.isEmpty } ?? "0") ?? 0
            if s.hasPrefix("Anonymous:") { anon = kb }
            if s.hasPrefix("AnonHugePages:") { huge = kb }
        }
        return "\(huge / 1024) MiB of \(anon / 1024) MiB anonymous memory in transparent huge pages"
    }

    /// Anonymous resident memory (heap), from /proc/self/status.
    static func rssAnonBytes() -> Int {
        guard let f = fopen("/proc/self/status", "r") else { return 0 }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, 256, f) != nil {
            let s = String(cString: line)
            if s.hasPrefix("RssAnon:") {
                return (Int(s.split(separator: " ").dropFirst().first { !$0.isEmpty } ?? "0") ?? 0) * 1024
            }
        }
        return 0
    }
}
