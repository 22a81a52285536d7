import Base
@testable import PageStore
import Synchronization
import Testing
import TestThreads

/// The robustness harness's data-file crash points (`pagestore.after-write`,
/// `pagestore.after-meta-write`) with the process exit replaced by a thrown fault: at each
/// hit of each point, the unsynced writes are destroyed exactly as the crashing node destroys
/// them (`POSIXFileIO.destroyUnsyncedWrites`: garbage over every unsynced range, a grown file
/// cut back), the file is abandoned, and the reopened file must pass the checker and hold the
/// last committed state (with deferred meta syncs: the last or the previous one).
@Suite struct UnsyncedWriteCrashTests {
    final class Box: Sendable {
        let io = Mutex<POSIXFileIO?>(nil)
        let hits = Mutex<[CrashPoint]>([])
        let destroyed = Mutex<Int>(0)
        /// Meta slot written by the crashed commit (after-meta-write), to check it was destroyed.
        let metaSlot = Mutex<Int?>(nil)
    }

    static let points: [CrashPoint] = [.pageStoreAfterWrite, .pageStoreAfterMetaWrite]

    static func run(_ dir: TempDir, _ work: [[Op]], crashAt: Int?, box: Box, deferMetaSync: Bool) throws
        -> (committed: Model, inflight: Model?, file: PageFile, previous: Model) {
        var options = PageFileOptions()
        options.deferMetaSync = deferMetaSync
        options.growthStepBytes = 64 << 10
        options.ioFactory = { fd, path in
            let io = POSIXFileIO(fd: fd, path: path, recordUnsynced: true)
            box.io.withLock { $0 = io }
            return io
        }
        options.crashPointHook = { point, io throws(PageStoreError) in
            let n = box.hits.withLock { h in h.append(point); return h.count - 1 }
            guard n == crashAt else { return }
            let posix = io as! POSIXFileIO
            if point == .pageStoreAfterMetaWrite, let last = posix.unsynced?.pending.last {
                box.metaSlot.withLock { $0 = last.offset }
            }
            let destroyed = posix.destroyUnsyncedWrites(seed: UInt64(n) &+ 0xC0FFEE)
            box.destroyed.withLock { $0 = destroyed }
            throw .injectedFault(point.rawValue)
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

    @Test(arguments: [false, true])
    func crashAtEveryDataFilePoint(deferMetaSync: Bool) async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            let seed: UInt64 = 0x5EED_0006
            var gen = OpGenerator(seed: seed)
            gen.keySpace = 400
            let work = (0..<8).map { _ in (0..<Int.random(in: 1...80, using: &gen.g)).map { _ in gen.op() } }
            let dryDir = TempDir(); defer { dryDir.cleanup() }
            let dry = Box()
            let (_, none, dryFile, _) = try Self.run(dryDir, work, crashAt: nil, box: dry, deferMetaSync: deferMetaSync)
            dryFile.close()
            #expect(none == nil)
            let hits = dry.hits.withLock { $0 }
            #expect(hits.count == 2 * work.count, "every commit passes both points: \(hits)")
            for k in 0..<hits.count {
                let dir = TempDir(); defer { dir.cleanup() }
                let box = Box()
                let context = "seed \(seed) deferMetaSync \(deferMetaSync) crash at hit \(k) (\(hits[k].rawValue))"
                let (committed, inflight, file, previous) = try Self.run(dir, work, crashAt: k, box: box, deferMetaSync: deferMetaSync)
                try #require(inflight != nil, "\(context): the crash point did not fire")
                file.abandonForTesting()  // a process death: no clean close
                #expect(box.destroyed.withLock { $0 } >= 4096, "\(context): nothing unsynced was destroyed")
                if let slot = box.metaSlot.withLock({ $0 }) {
                    let page = readFile(dir.file(), at: slot, count: 4096)
                    let decoded = page.withUnsafeBytes { Meta.decode($0, slot: UInt64(slot / 4096)) }
                    if case .success = decoded { Issue.record("\(context): the unsynced meta page survived") }
                }
                let reopened = try PageFile.open(path: dir.file())
                defer { reopened.close() }
                let report = try reopened.check()
                #expect(report.problems.isEmpty, "\(context): \(report.problems.prefix(5))")
                let diffLast = try difference(reopened, committed)
                if deferMetaSync && hits[k] == .pageStoreAfterWrite {
                    // The previous commit's meta was not synced yet either: it may be lost too.
                    let diffPrevious = try difference(reopened, previous)
                    #expect(diffLast == nil || diffPrevious == nil, "\(context): neither last nor previous commit: \(diffLast ?? "")")
                } else {
                    #expect(diffLast == nil, "\(context): not the last committed state: \(diffLast ?? "")")
                }
                // The reopened file keeps working.
                try reopened.update { txn in try txn.createBucketIfNeeded(named: bytes("after")).put(bytes("k"), bytes("v")) }
                let again = try reopened.check()
                #expect(again.problems.isEmpty, "\(context) after a further commit: \(again.problems.prefix(5))")
            }
        }
    }

    /// Without the recording layer (every process not started for a PageStore crash point)
    /// nothing is remembered and nothing can be destroyed.
    @Test func notRecordingDestroysNothing() throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let file = try PageFile.open(path: dir.file())
        defer { file.close() }
        let io = try #require(file.io as? POSIXFileIO)
        #expect(io.unsynced == nil)
        try file.update { txn in try txn.createBucketIfNeeded(named: bytes("b")).put(bytes("k"), bytes("v")) }
        #expect(io.destroyUnsyncedWrites() == 0)
        try file.view { txn throws in #expect(try txn.bucket(named: bytes("b"))?.get(bytes("k")) == bytes("v")) }
    }
}
