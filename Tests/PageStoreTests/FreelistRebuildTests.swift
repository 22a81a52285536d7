#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import PageStore
import Base
import Testing
import TestThreads

/// Commits without a stored freelist (`PageFileOptions.writesFreelist` false, the default
/// since session 12): no freelist page is written, the meta says so, and opening the file
/// rebuilds exactly the free pages the writer had; files convert both ways; an unknown meta
/// flag refuses the open.
@Suite struct FreelistRebuildTests {
    /// Random commits (puts, deletes, blobs, bucket drops) with the given freelist mode; the
    /// model of the committed state, and the file still open.
    static func write(_ dir: TempDir, seed: UInt64, commits: Int, writesFreelist: Bool, model: inout Model) throws -> PageFile {
        var options = PageFileOptions()
        options.writesFreelist = writesFreelist
        options.growthStepBytes = 64 << 10
        let file = try PageFile.open(path: dir.file(), options: options)
        var gen = OpGenerator(seed: seed)
        gen.keySpace = 1500
        for _ in 0..<commits {
            let ops = (0..<Int.random(in: 20...200, using: &gen.g)).map { _ in gen.op() }
            try file.update { txn in for op in ops { try perform(op, &txn) } }
            for op in ops { model.apply(op) }
        }
        return file
    }

    /// Page ids of `[2, pageCount)` whose header says freelist (type 4), read from the file.
    static func freelistPages(_ path: String, pageCount: Int, pageSize: Int) -> [Int] {
        (2..<pageCount).filter { id in
            let header = readFile(path, at: id * pageSize, count: 8)
            return header.count == 8 && UInt16(header[4]) | UInt16(header[5]) << 8 == PageType.freelist.rawValue
        }
    }

    /// The writer's free pages (free and pending: what a restart frees), as extents.
    static func freeExtents(_ file: PageFile) -> [FreeExtent] {
        file.writer.withLock { $0.freelist.extents(adding: []) }
    }

    /// The default writes no freelist page at all (the file never holds one), marks its meta,
    /// and a reopen rebuilds the same free pages the writer had in memory. Fails on code that
    /// writes a freelist run every commit.
    @Test(arguments: [UInt64(31), 32, 33])
    func commitsWriteNoFreelistAndReopenRebuildsIt(seed: UInt64) async throws {
        try await onOwnThread {
            let dir = TempDir(); defer { dir.cleanup() }
            var model = Model()
            let file = try Self.write(dir, seed: seed, commits: 40, writesFreelist: false, model: &model)
            let meta = file.shared.withLock { $0.meta }
            #expect(meta.flags == Meta.freelistNotStored && meta.freelist == Meta.freelistSentinel, "seed \(seed): \(meta)")
            let before = Self.freeExtents(file)
            let stats = file.stats
            #expect(stats.freePages + stats.pendingPages > 0, "seed \(seed): the workload frees pages")
            #expect(try file.check().problems.isEmpty)
            file.close()
            let stored = Self.freelistPages(dir.file(), pageCount: Int(meta.pageCount), pageSize: meta.pageSize)
            #expect(stored.isEmpty, "seed \(seed): freelist pages \(stored.prefix(5)) written")
            let reopened = try PageFile.open(path: dir.file())
            defer { reopened.close() }
            #expect(Self.freeExtents(reopened) == before, "seed \(seed): rebuilt free pages differ")
            #expect(try difference(reopened, model) == nil, "seed \(seed)")
            let report = try reopened.check()
            #expect(report.problems.isEmpty, "seed \(seed): \(report.problems.prefix(5))")
            print("FreelistRebuildTests: seed \(seed): \(report.freePages) free of \(report.pageCount) pages rebuilt")
        }
    }

    /// A file written with a stored freelist opens with the default (the first commit frees
    /// the old run and stores none), and back: every state passes the checker and equals the
    /// model.
    @Test func filesConvertBothWays() async throws {
        try await onOwnThread {
            let dir = TempDir(); defer { dir.cleanup() }
            var model = Model()
            var file = try Self.write(dir, seed: 41, commits: 25, writesFreelist: true, model: &model)
            var meta = file.shared.withLock { $0.meta }
            #expect(meta.storesFreelist && meta.freelist != 0)
            file.close()
            for (round, writes) in [false, true, false].enumerated() {
                var options = PageFileOptions()
                options.writesFreelist = writes
                file = try PageFile.open(path: dir.file(), options: options)
                #expect(try file.check().problems.isEmpty, "round \(round) at open")
                var gen = OpGenerator(seed: 50 + UInt64(round))
                gen.keySpace = 1500
                for _ in 0..<5 {
                    let ops = (0..<100).map { _ in gen.op() }
                    try file.update { txn in for op in ops { try perform(op, &txn) } }
                    for op in ops { model.apply(op) }
                }
                meta = file.shared.withLock { $0.meta }
                #expect(meta.storesFreelist == writes, "round \(round): \(meta)")
                let report = try file.check()
                #expect(report.problems.isEmpty, "round \(round): \(report.problems.prefix(5))")
                #expect(try difference(file, model) == nil, "round \(round)")
                file.close()
            }
            let last = try PageFile.open(path: dir.file())
            defer { last.close() }
            #expect(try last.check().problems.isEmpty)
            #expect(try difference(last, model) == nil)
        }
    }

    /// A meta flag this code does not know refuses the open with a clear error instead of
    /// opening (or falling back to the older meta). Fails on code that ignores the flags.
    @Test func unknownMetaFlagIsRefused() throws {
        let dir = TempDir(); defer { dir.cleanup() }
        var model = Model()
        let file = try Self.write(dir, seed: 61, commits: 3, writesFreelist: false, model: &model)
        var meta = file.shared.withLock { $0.meta }
        file.close()
        meta.flags |= 0x8
        let page = UnsafeMutableRawBufferPointer.allocate(byteCount: meta.pageSize, alignment: 8)
        defer { page.deallocate() }
        page.initializeMemory(as: UInt8.self, repeating: 0)
        meta.encode(into: page.baseAddress!)
        patchFile(dir.file(), at: Int(meta.txid % 2) * meta.pageSize, [UInt8](page))
        #expect {
            _ = try PageFile.open(path: dir.file())
        } throws: { error in
            guard case .unsupportedFormat(_, let reason) = error as? PageStoreError else { return false }
            return reason.contains("0x9")
        }
    }

    /// A page reachable twice (a branch pointing at one child twice) refuses the open when
    /// the freelist is rebuilt, instead of handing that page out again.
    @Test func aPageReachableTwiceRefusesTheRebuild() throws {
        let dir = TempDir(); defer { dir.cleanup() }
        var model = Model()
        let file = try Self.write(dir, seed: 71, commits: 10, writesFreelist: false, model: &model)
        let snapshot = file.shared.withLock { s in Snapshot(mapping: s.mapping, meta: s.meta, verifyAlways: true) }
        // The first branch page in use (the checker's marks), and the child id of its entry 0
        // written into entry 1.
        let marks = try file.runChecker().marks
        var branch: PageID?
        for id in 2..<snapshot.meta.pageCount where marks[Int(id)] == 1 {
            if let p = try? snapshot.page(id), p.rawType == PageType.compactBranch.rawValue, p.count >= 2 { branch = id; break }
        }
        let pageSize = snapshot.pageSize
        file.close()
        let id = try #require(branch, "the workload builds a branch page")
        var bytes = readFile(dir.file(), at: Int(id) * pageSize, count: pageSize)
        let e0 = PageLayout.headerSize, e1 = e0 + PageLayout.compactBranchElementSize
        for k in 0..<4 { bytes[e1 + k] = bytes[e0 + k] }
        let checked = Int(UInt32(bytes[12]) | UInt32(bytes[13]) << 8 | UInt32(bytes[14]) << 16 | UInt32(bytes[15]) << 24)
        let crc = bytes.withUnsafeBytes { CRC32CBridge.checksum(UnsafeRawBufferPointer(rebasing: $0[4..<checked])) }
        withUnsafeBytes(of: crc.littleEndian) { for k in 0..<4 { bytes[k] = $0[k] } }
        patchFile(dir.file(), at: Int(id) * pageSize, bytes)
        #expect {
            _ = try PageFile.open(path: dir.file())
        } throws: { error in
            guard case .corruptPage(_, let reason) = error as? PageStoreError else { return false }
            return reason.contains("reachable twice")
        }
    }
}
