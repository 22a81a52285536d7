@testable import PageStore
import Synchronization
import Testing
import TestThreads

/// Crash safety: a commit is interrupted at every named fault point in turn, the file layer
/// decides what reached the disk (everything / nothing unsynced / a random subset / a torn
/// last write), and the reopened file must hold exactly the last committed state (or, where
/// the interrupted commit's meta may have reached the disk, exactly the new state), pass
/// the checker, and accept further commits.
@Suite struct CrashTests {
    final class Box: Sendable {
        let io = Mutex<CrashableFileIO?>(nil)
        let hits = Mutex<[FaultPoint]>([])
    }

    static func workload(seed: UInt64) -> [[Op]] {
        var gen = OpGenerator(seed: seed)
        gen.keySpace = 300
        return (0..<6).map { _ in (0..<Int.random(in: 1...60, using: &gen.g)).map { _ in gen.op() } }
    }

    /// Runs the workload; the fault hook throws at hit number `crashAt`.
    /// A process death after the fault fired: the file I/O crashes in `mode`, the file is
    /// abandoned without a clean close, and the reopened file must pass the checker. The
    /// caller closes the returned file.
    static func crashAndReopen(_ box: Box, _ file: PageFile, mode: CrashableFileIO.CrashMode, dir: TempDir,
                               context: String) throws -> PageFile {
        try box.io.withLock { $0 }!.crash(mode)
        file.abandonForTesting()
        let reopened = try PageFile.open(path: dir.file())
        let report = try reopened.check()
        #expect(report.problems.isEmpty, "\(context): \(report.problems.prefix(5))")
        return reopened
    }

    static func run(_ dir: TempDir, _ work: [[Op]], crashAt: Int?, box: Box, deferMetaSync: Bool = false,
                    slackPercent: Int? = nil, writesFreelist: Bool = false) throws
        -> (committed: Model, inflight: Model?, file: PageFile, previous: Model) {
        var options = PageFileOptions()
        options.deferMetaSync = deferMetaSync
        options.writesFreelist = writesFreelist
        if let slackPercent { options.allocationSlackPercent = slackPercent }
        options.growthStepBytes = 64 << 10
        options.faultHook = { point throws(PageStoreError) in
            if point == .initWriteMeta || point == .initSync { return }
            let n = box.hits.withLock { h in h.append(point); return h.count - 1 }
            if n == crashAt { throw .injectedFault(point.rawValue) }
        }
        options.ioFactory = { fd, path in
            let io = CrashableFileIO(fd: fd, path: path)
            box.io.withLock { $0 = io }
            return io
        }
        let file = try PageFile.open(path: dir.file(), options: options)
        var committed = Model(), previous = Model()
        for ops in work {
            var next = committed
            for op in ops { next.apply(op) }
            do {
                try file.update { txn in for op in ops { try perform(op, &txn) } }
                previous = committed
                committed = next
            } catch {
                return (committed, next, file, previous)
            }
        }
        return (committed, nil, file, previous)
    }

    static let modes: [CrashableFileIO.CrashMode] = [.keepAll, .dropUnsynced, .dropRandom(seed: 7), .tearLastWrite]

    /// With and without a stored freelist run (`writesFreelist`; without, the reopen rebuilds
    /// the free pages and the checker compares them with the unreachable ones).
    @Test(arguments: modes, [false, true])
    func crashAtEveryFaultPoint(mode: CrashableFileIO.CrashMode, writesFreelist: Bool) async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            let seed: UInt64 = 0x5EED_0001
            let work = Self.workload(seed: seed)
            let dry = Box()
            let dryDir = TempDir(); defer { dryDir.cleanup() }
            let (_, inflight, _, _) = try Self.run(dryDir, work, crashAt: nil, box: dry, writesFreelist: writesFreelist)
            #expect(inflight == nil)
            let points = dry.hits.withLock { $0 }
            #expect(points.count >= work.count * 4, "every commit passes at least 4 fault points")
            for k in 0..<points.count {
                let dir = TempDir(); defer { dir.cleanup() }
                let box = Box()
                let context = "seed \(seed) mode \(mode) writesFreelist \(writesFreelist) crash at hit \(k) (\(points[k]))"
                do {
                    let (committed, inflight, file, _) = try Self.run(dir, work, crashAt: k, box: box, writesFreelist: writesFreelist)
                    try #require(inflight != nil, "\(context): the fault did not fire")
                    let mayBeNew: Bool
                    switch mode {
                    case .keepAll, .dropRandom: mayBeNew = points[k] == .syncMeta
                    case .dropUnsynced, .tearLastWrite: mayBeNew = false
                    }
                    let reopened = try Self.crashAndReopen(box, file, mode: mode, dir: dir, context: context)
                    defer { reopened.close() }
                    let diffOld = try difference(reopened, committed)
                    let diffNew = try difference(reopened, inflight!)
                    if mayBeNew {
                        #expect(diffOld == nil || diffNew == nil, "\(context): neither old nor new state: \(diffOld ?? "")")
                    } else {
                        #expect(diffOld == nil, "\(context): \(diffOld ?? "")")
                    }
                    // The reopened file keeps working.
                    try reopened.update { txn in try txn.createBucketIfNeeded(named: bytes("after")).put(bytes("k"), bytes("v")) }
                    let again = try reopened.check()
                    #expect(again.problems.isEmpty, "\(context) after a further commit: \(again.problems.prefix(5))")
                }
            }
        }
    }

    /// Commits whose pages are written as long contiguous runs (slack 100: single pages only
    /// from free runs of at least `minRun` pages or the tail) crash in the middle of a run:
    /// the reopened file holds exactly the last committed state, whatever part of the run
    /// (and of the runs before it) reached the disk.
    @Test(arguments: modes)
    func crashInTheMiddleOfARunWrite(mode: CrashableFileIO.CrashMode) async throws {
        try await onOwnThread {
            let seed: UInt64 = 0x5EED_0003
            var gen = OpGenerator(seed: seed)
            gen.keySpace = 2000
            // A first big commit, then overwrites and deletes: later commits reuse the freed
            // runs, so their writes are runs inside the file, not only at its tail.
            let work = (0..<10).map { i in (0..<(i == 0 ? 600 : 150)).map { _ in gen.op() } }
            let dry = Box()
            let dryDir = TempDir(); defer { dryDir.cleanup() }
            let (_, inflight, dryFile, _) = try Self.run(dryDir, work, crashAt: nil, box: dry, slackPercent: 100)
            #expect(inflight == nil)
            let stats = dryFile.stats
            #expect(stats.pagesWritten >= 4 * stats.runsWritten, "seed \(seed): \(stats.pagesWritten) pages in \(stats.runsWritten) runs")
            // Later commits write into freed runs inside the file, not only at its tail.
            #expect(stats.pageCount + stats.pagesWritten / 4 < stats.pagesWritten,
                    "seed \(seed): \(stats.pagesWritten) pages written, file of \(stats.pageCount)")
            print("CrashTests: run writes: \(stats.pagesWritten) pages in \(stats.runsWritten) runs, file \(stats.pageCount) pages")
            dryFile.close()
            let points = dry.hits.withLock { $0 }
            // Data writes that continue a commit's writes (hit k-1 was a data write too),
            // every third one, in the commits after the first.
            let firstSync = max(1, points.firstIndex(of: .syncMeta) ?? 1)
            let mid = (firstSync..<points.count).filter { points[$0] == .writeData && points[$0 - 1] == .writeData }
            #expect(mid.count > 20)
            for k in mid where k % 3 == 0 {
                let dir = TempDir(); defer { dir.cleanup() }
                let box = Box()
                let context = "seed \(seed) mode \(mode) crash at data write hit \(k)"
                let (committed, inflight, file, _) = try Self.run(dir, work, crashAt: k, box: box, slackPercent: 100)
                try #require(inflight != nil, "\(context): the fault did not fire")
                let reopened = try Self.crashAndReopen(box, file, mode: mode, dir: dir, context: context)
                defer { reopened.close() }
                let diff = try difference(reopened, committed)
                #expect(diff == nil, "\(context): \(diff ?? "")")
            }
        }
    }

    /// With `deferMetaSync` the last commit may be lost, but the file is always the last or
    /// the previous committed state, and consistent.
    @Test(arguments: modes)
    func deferredMetaSyncLosesAtMostTheLastCommit(mode: CrashableFileIO.CrashMode) async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            let seed: UInt64 = 0x5EED_0002
            let work = Self.workload(seed: seed)
            let dry = Box()
            let dryDir = TempDir(); defer { dryDir.cleanup() }
            _ = try Self.run(dryDir, work, crashAt: nil, box: dry, deferMetaSync: true)
            let points = dry.hits.withLock { $0 }
            #expect(!points.contains(.syncMeta))
            for k in 0..<points.count {
                let dir = TempDir(); defer { dir.cleanup() }
                let box = Box()
                let context = "seed \(seed) deferred mode \(mode) crash at hit \(k) (\(points[k]))"
                let (committed, inflight, file, previous) = try Self.run(dir, work, crashAt: k, box: box, deferMetaSync: true)
                try #require(inflight != nil, "\(context): the fault did not fire")
                let reopened = try Self.crashAndReopen(box, file, mode: mode, dir: dir, context: context)
                defer { reopened.close() }
                let diffLast = try difference(reopened, committed)
                let diffPrevious = try difference(reopened, previous)
                #expect(diffLast == nil || diffPrevious == nil, "\(context): neither last nor previous commit: \(diffLast ?? "")")
            }
        }
    }

    /// A crash while creating the file leaves no half-written file: the next open creates it.
    @Test(arguments: [FaultPoint.initWriteMeta, .initSync])
    func crashDuringCreation(point: FaultPoint) throws {
        let dir = TempDir(); defer { dir.cleanup() }
        var options = PageFileOptions()
        options.faultHook = { p throws(PageStoreError) in if p == point { throw .injectedFault(p.rawValue) } }
        #expect(throws: PageStoreError.injectedFault(point.rawValue)) { _ = try PageFile.open(path: dir.file(), options: options) }
        #expect(fileSize(dir.file()) == -1, "no data file appears before it is complete")
        let file = try PageFile.open(path: dir.file())
        defer { file.close() }
        try file.view { txn throws in #expect(try txn.bucketNames().isEmpty) }
        #expect(try file.check().problems.isEmpty)
    }
}
