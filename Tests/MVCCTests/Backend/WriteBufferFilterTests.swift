#if canImport(Glibc)
import Glibc
#endif
import Base
@testable import PageStore
import Synchronization
import Testing
import TestThreads

@testable import MVCC

/// Session 14: the record-key filters that let reads skip the buffer (`RecordKeyFilter`,
/// `BufferedKeyFilters`), and the trim's bucket order (`BufferKey.sorted`).
extension WriteBufferTests {
    /// An inner backend that counts point lookups in the buffer bucket (the probe a read
    /// makes before looking in the records tree).
    final class BufferProbeCounter: MVCCBackend, Sendable {
        let inner = InMemoryBackend()
        let probes = Mutex(0)

        func view<R>(_ body: (any MVCCReadTxn) throws -> R) throws -> R { try inner.view(body) }
        func update<R>(_ body: (any MVCCWriteTxn) throws -> R) throws -> R { try inner.update(body) }
        func withLatestValue<R>(
            _ bucket: MVCCBucket, rawKey: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> R
        ) throws -> R {
            if bucket == .buffer { probes.withLock { $0 += 1 } }
            return try inner.withLatestValue(bucket, rawKey: rawKey, body)
        }
    }

    /// Two ranges share the node's buffer with revisions of their own: range B's records, low
    /// revisions, stay buffered while range A's records (high revisions) are flushed and
    /// trimmed. The lowest buffered revision then says nothing about A's records; the filter
    /// does: point reads of A's flushed records do not probe the buffer, reads of B's buffered
    /// records do and find them. (Before session 14 every read of A probed the buffer.)
    @Test func pointReadsOfFlushedRecordsSkipTheBuffer() throws {
        let counter = BufferProbeCounter()
        let backend = try WriteBufferedBackend(inner: counter, options: .init(flushThreshold: 10, flushFraction: 0, minChunk: 1000))
        let a = try MVCCStore.create(backend: backend, rangeID: RangeID(2), start: b("a"), end: b("b"))
        let bRange = try MVCCStore.create(backend: backend, rangeID: RangeID(3), start: b("b"), end: nil)
        var revA: Int64 = 1000
        for i in 0..<10 {  // the 10th buffered record starts a cycle; one chunk copies all
            revA += 1
            try a.put("a\(i)", "va\(i)", at: revA)
            try a.commit(appliedIndex: UInt64(revA))
        }
        #expect(backend.flushing)
        var revB: Int64 = 1
        for i in 0..<3 {  // arrive after the window was taken; the 1st of these commits trims it
            revB += 1
            try bRange.put("b\(i)", "vb\(i)", at: revB)
            try bRange.commit(appliedIndex: UInt64(revB))
        }
        #expect(!backend.flushing && counter.inner.contents(.buffer).count == 3, "A's window trimmed, B's records buffered")
        let before = counter.probes.withLock { $0 }
        for i in 0..<10 { #expect(try a.get("a\(i)")?.value == b("va\(i)")) }
        #expect(counter.probes.withLock { $0 } == before, "no buffer probe for flushed records")
        for i in 0..<3 { #expect(try bRange.get("b\(i)")?.value == b("vb\(i)")) }
        #expect(counter.probes.withLock { $0 } == before + 3, "buffered records are looked up in the buffer")
        // A reopened backend builds the filter from the buffer it finds.
        let reopened = try WriteBufferedBackend(inner: counter, options: backend.options)
        let a2 = try MVCCStore.open(backend: reopened, rangeID: RangeID(2))
        let b2 = try MVCCStore.open(backend: reopened, rangeID: RangeID(3))
        let mid = counter.probes.withLock { $0 }
        for i in 0..<10 { #expect(try a2.get("a\(i)")?.value == b("va\(i)")) }
        for i in 0..<3 { #expect(try b2.get("b\(i)")?.value == b("vb\(i)")) }
        #expect(counter.probes.withLock { $0 } == mid + 3)
    }

    /// Every key added is reported (no false negatives), through growth by rebuilds; absent
    /// keys are rarely reported.
    @Test(arguments: [UInt64(41), 42, 43])
    func recordKeyFilterHasNoFalseNegatives(seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        func randomKey() -> [UInt8] { (0..<Int.random(in: 1...40, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) } }
        var all: [[UInt8]] = []
        var filter = RecordKeyFilter.empty
        for round in 0..<60 {
            let batch = (0..<Int.random(in: 0...300, using: &g)).map { _ in randomKey() }
            filter = filter.adding(batch) { all + batch }
            all += batch
            #expect(filter.count == all.count, "seed \(seed) round \(round)")
            for k in all { #expect(k.withUnsafeBytes { filter.mayContain($0) }, "seed \(seed) round \(round): a false negative") }
        }
        let present = Set(all)
        var falsePositives = 0
        var absent = 0
        while absent < 20_000 {
            let k = randomKey()
            if present.contains(k) { continue }
            absent += 1
            if k.withUnsafeBytes({ filter.mayContain($0) }) { falsePositives += 1 }
        }
        #expect(falsePositives < 200, "seed \(seed): \(falsePositives) false positives of 20,000")
        #expect(!RecordKeyFilter.empty.mayContain(UnsafeRawBufferPointer(start: nil, count: 0)))
    }

    /// The trim's batch is in bucket order: revision as integers first, then the bytes.
    @Test(arguments: [UInt64(51), 52])
    func bufferKeysSortInBucketOrder(seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        for round in 0..<50 {
            let keys: [[UInt8]] = (0..<Int.random(in: 0...200, using: &g)).map { _ in
                let user = (0..<Int.random(in: 0...6, using: &g)).map { _ in UInt8.random(in: 0...3, using: &g) }
                let rev = Revision(main: Int64.random(in: 1...20, using: &g), sub: Int64.random(in: 0...2, using: &g))
                return BufferKey.make(recordKey: RecordKey.make(user, rev))
            }
            #expect(BufferKey.sorted(keys) == keys.sorted(by: Bytes.less), "seed \(seed) round \(round)")
        }
    }
}

extension WriteBufferTests {
    /// Compaction through the buffer (session 14): deleting flushed records writes compaction
    /// markers to the buffer, not tree deletes (before: one tree delete per record, each a
    /// leaf rewrite of its own); reads and a reopen no longer see the compacted records; the
    /// next cycle deletes them from the tree in its key-ordered pass and trims the markers.
    @Test func compactionDeletesReachTheTreeThroughTheFlush() throws {
        let inner = InMemoryBackend()
        let backend = try WriteBufferedBackend(inner: inner, options: .init(flushThreshold: 20, flushFraction: 0, minChunk: 1000))
        let store = try freshStore(backend)
        var rev: Int64 = 1
        func put(_ key: String, _ value: String) throws {
            rev += 1
            try store.put(key, value, at: rev)
            try store.commit(appliedIndex: UInt64(rev))
        }
        for i in 0..<20 { try put(Self.key(i), "old\(i)") }  // the 20th starts a cycle that copies all
        try put(Self.key(0), "new0")  // trims the window
        #expect(!backend.flushing && inner.contents(.records).count == 20 && inner.contents(.buffer).count == 1)
        for i in 1..<5 { try put(Self.key(i), "new\(i)") }
        let treeWrites = inner.writeCount(.records)
        try store.compact(rev)
        try store.commit(appliedIndex: UInt64(rev) + 1)
        #expect(!backend.flushing, "5 records + 5 markers: below the threshold")
        #expect(inner.writeCount(.records) == treeWrites, "the compaction commit writes markers, no tree deletes")
        #expect(inner.contents(.records).count == 20, "the compacted records are still in the tree")
        #expect(inner.contents(.buffer).filter { $0.1.isEmpty }.count == 5, "one marker per compacted record")
        #expect(try Self.records(backend).count == 20, "the union hides the compacted records")
        #expect(mvccError { _ = try store.get(Self.key(1), at: 3) } == .compacted)
        let expected = try store.range(RangeRequest(key: [0], rangeEnd: [0]))
        #expect(expected.kvs.map(\.value) == (0..<20).map { b($0 < 5 ? "new\($0)" : "old\($0)") })
        // A reopen rebuilds the index without the compacted records.
        let reopened = try MVCCStore.open(backend: try WriteBufferedBackend(inner: inner, options: backend.options), rangeID: RangeID(2))
        #expect(try reopened.range(RangeRequest(key: [0], rangeEnd: [0])) == expected)
        #expect(try reopened.hashKV().hash == store.hashKV().hash)
        // The next cycle (10 more puts reach the threshold) applies the markers in its pass.
        for i in 20..<30 { try put(Self.key(i), "more\(i)") }
        let tree = inner.contents(.records).map(\.0)
        for i in 0..<5 {
            #expect(!tree.contains(RecordKey.make(b(Self.key(i)), Revision(main: Int64(2 + i)))), "record \(i) deleted by the flush")
        }
        #expect(tree.count == 30, "20 keys' live records + 10 new")
        try put(Self.key(0), "trim")
        #expect(inner.contents(.buffer).count == 1, "the trim removed the markers with the window")
        #expect(try store.range(RangeRequest(key: [0], rangeEnd: [0])).kvs.count == 30)
    }
}

extension WriteBufferTests {
    /// The first compaction marker marks the file with PageStore meta flag `compactionMarkers`
    /// (session-13 code, which knows only `writeBuffer`, would read a marker as a record); the
    /// flag is sticky like `writeBuffer`.
    @Test func compactionMarkersMarkTheFile() throws {
        let path = "/tmp/flotilla-wb-marker-flag-\(getpid()).db"
        unlink(path)
        defer { unlink(path) }
        var backend = try PageStoreBackend.open(path: path)
        let buffered = try WriteBufferedBackend(inner: backend, options: .init(flushThreshold: 1000))
        let store = try MVCCStore.create(backend: buffered, rangeID: RangeID(2), start: [], end: nil)
        try store.put("a", "1", at: 2)
        try store.put("a", "2", at: 3)
        try store.commit(appliedIndex: 1)
        let flags = backend.file.currentMetaForTesting.flags
        #expect(flags & Meta.writeBuffer != 0 && flags & Meta.compactionMarkers == 0, "puts only: no marker flag")
        try store.compact(3)
        try store.commit(appliedIndex: 2)
        #expect(backend.file.currentMetaForTesting.flags & Meta.compactionMarkers != 0)
        #expect(try store.get("a")?.value == b("2"))
        backend.file.close()
        backend = try PageStoreBackend.open(path: path)
        #expect(backend.file.currentMetaForTesting.flags & Meta.compactionMarkers != 0, "sticky")
        let reopened = try MVCCStore.open(backend: try WriteBufferedBackend(inner: backend), rangeID: RangeID(2))
        #expect(try reopened.get("a")?.value == b("2"))
        #expect(mvccError { _ = try reopened.get("a", at: 2) } == .compacted)
        backend.file.close()
    }
}

extension WriteBufferTests {
    /// Crash at every fault point of every commit while puts, flush cycles and compactions
    /// (markers) interleave; after each reopen the range equals a buffer-less twin that applied
    /// the same commits — same latest values, the same HashKV and the same stored records (the
    /// union of tree and buffer: no compacted record left in the tree without a marker covering
    /// it) — and the file checks clean.
    @Test func crashWithCompactionMarkers() async throws {
        try await onOwnThread {
            let path = "/tmp/flotilla-wb-crash-markers-\(getpid()).db"
            let points: [FaultPoint] = [.writeData, .syncData, .writeMeta, .syncMeta]
            let commits = 12
            struct Commit {
                var puts: [([UInt8], [UInt8], Int64)] = []
                var compactAt: Int64?
            }
            // The same script for every crash: 9 puts per commit over 40 keys, compaction at
            // every third commit (5 revisions back), so markers, copies and trims interleave.
            var script: [Commit] = []
            var rev: Int64 = 1
            for c in 1...commits {
                var commit = Commit()
                for j in 0..<9 {
                    rev += 1
                    commit.puts.append((b(Self.key((c * 13 + j * 7) % 40)), b("v\(c).\(j)"), rev))
                }
                if c % 3 == 0 { commit.compactAt = rev - 5 }
                script.append(commit)
            }
            func apply(_ commit: Commit, to s: MVCCStore, index: UInt64) throws {
                for (k, v, r) in commit.puts { _ = try s.put(PutRequest(key: k, value: v), revision: r) }
                if let at = commit.compactAt { try s.compact(at) }
                try s.commit(appliedIndex: index)
            }
            for crashCommit in 2...commits {
                for point in points {
                    unlink(path)
                    defer { unlink(path) }
                    let fire = FireFlag()
                    var options = PageFileOptions()
                    options.growthStepBytes = 64 << 10
                    options.faultHook = { p throws(PageStoreError) in
                        if fire.on.withLock({ $0 }) && p == point { throw .injectedFault(p.rawValue) }
                    }
                    let file = try PageFile.open(path: path, options: options)
                    let wb = WriteBufferOptions(flushThreshold: 25, flushFraction: 0, minChunk: 6)
                    let s = try MVCCStore.create(backend: try WriteBufferedBackend(inner: PageStoreBackend(file: file), options: wb),
                                                 rangeID: RangeID(2), start: [], end: nil)
                    for (i, commit) in script.enumerated() {
                        fire.on.withLock { $0 = i + 1 == crashCommit }
                        do { try apply(commit, to: s, index: UInt64(i + 1)) } catch { break }
                    }
                    file.abandonForTesting()
                    let context = "crash in commit \(crashCommit) at \(point)"
                    let reopenedFile = try PageFile.open(path: path)
                    defer { reopenedFile.close() }
                    #expect(try reopenedFile.check().problems.isEmpty, "\(context)")
                    let backend = try WriteBufferedBackend(inner: PageStoreBackend(file: reopenedFile), options: wb)
                    let r = try MVCCStore.open(backend: backend, rangeID: RangeID(2))
                    let twinBackend = InMemoryBackend()
                    let twin = try freshStore(twinBackend)
                    for i in 0..<Int(r.appliedIndex) { try apply(script[i], to: twin, index: UInt64(i + 1)) }
                    let all = RangeRequest(key: [0], rangeEnd: [0])
                    #expect(try r.range(all) == twin.range(all), "\(context)")
                    #expect(try r.hashKV() == twin.hashKV(), "\(context)")
                    #expect(r.compactedRevision == twin.compactedRevision, "\(context)")
                    #expect(Self.same(try Self.records(backend), try Self.records(twinBackend)), "\(context): the stored records")
                    // Go on from whatever the crash left: more cycles, another compaction.
                    for i in Int(r.appliedIndex)..<commits {
                        try apply(script[i], to: r, index: UInt64(i + 1))
                        try apply(script[i], to: twin, index: UInt64(i + 1))
                    }
                    #expect(try r.hashKV() == twin.hashKV(), "\(context): after the rest of the script")
                    #expect(Self.same(try Self.records(backend), try Self.records(twinBackend)), "\(context): the stored records at the end")
                    #expect(try reopenedFile.check().problems.isEmpty, "\(context)")
                }
            }
        }
    }
}
