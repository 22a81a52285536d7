#if canImport(Glibc)
import Glibc
#endif
import Base
@testable import PageStore
import Synchronization
import Testing
import TestThreads

@testable import MVCC

/// The write buffer (`WriteBufferedBackend`): puts land in `mvcc.buffer`, flush cycles move
/// them into `mvcc.records`, and every read path sees each record exactly once, across
/// crashes at any point of a cycle.
@Suite struct WriteBufferTests {
    final class FireFlag: Sendable {
        let on = Mutex(false)
    }

    /// The logical records bucket (buffer ∪ tree) as one ordered list.
    static func records(_ backend: any MVCCBackend) throws -> [([UInt8], [UInt8])] {
        try backend.view { rtx in
            var out: [([UInt8], [UInt8])] = []
            try rtx.scan(.records, from: [], to: nil, reverse: false) { k, v in
                out.append((Array(k), Array(v)))
                return true
            }
            return out
        }
    }

    static func same(_ a: [([UInt8], [UInt8])], _ b: [([UInt8], [UInt8])]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    static func key(_ i: Int) -> String { "key\(String(i + 1000))" }

    @Test func putsGoToTheBufferAndCyclesMoveThemInKeyOrder() throws {
        let inner = InMemoryBackend()
        let backend = try WriteBufferedBackend(inner: inner, options: .init(flushThreshold: 40, minChunk: 7))
        let store = try freshStore(backend)
        var rev: Int64 = 1
        for i in 0..<30 {
            rev += 1
            try store.put(Self.key((i * 7) % 30), "v\(i)", at: rev)
            try store.commit(appliedIndex: UInt64(rev))
        }
        #expect(inner.writeCount(.records) == 0, "below the threshold no record reaches the tree")
        #expect(inner.contents(.buffer).count == 30 && backend.bufferedRecords == 30)
        // Reads: point, range (scan path), after reopen.
        #expect(try store.get(Self.key(3))?.value == b("v\((3 * 13) % 30)"))
        let all = try store.range(RangeRequest(key: [0], rangeEnd: [0]))
        #expect(all.kvs.count == 30 && all.kvs.map(\.key) == (0..<30).map { b(Self.key($0)) })
        // Cross the threshold: a cycle copies 2 × puts (≥ 7) per commit, then trims.
        var sawBoth = false
        for i in 30..<120 {
            rev += 1
            try store.put(Self.key(i % 50), "w\(i)", at: rev)
            try store.commit(appliedIndex: UInt64(rev))
            let both = Set(inner.contents(.records).map(\.0)).intersection(inner.contents(.buffer).map { $0.0.withUnsafeBytes { BufferKey.recordKey($0) } })
            if !both.isEmpty { sawBoth = true }
            #expect(try Self.records(backend).count == Int(rev - 1), "every record exactly once (commit \(i))")
            #expect(try store.range(RangeRequest(key: [0], rangeEnd: [0])).kvs.count == min(50, i + 1))
        }
        #expect(sawBoth, "a cycle keeps copied records in the buffer until it trims them")
        #expect(inner.writeCount(.records) > 0 && inner.contents(.records).count + inner.contents(.buffer).count >= 119)
        let reopened = try MVCCStore.open(backend: try WriteBufferedBackend(inner: inner), rangeID: RangeID(2))
        #expect(try reopened.range(RangeRequest(key: [0], rangeEnd: [0])) == store.range(RangeRequest(key: [0], rangeEnd: [0])))
    }

    @Test func aBackendWithoutTheBufferRefusesBufferedFiles() throws {
        let inner = InMemoryBackend()
        let store = try freshStore(try WriteBufferedBackend(inner: inner))
        try store.put("a", "1", at: 2)
        try store.commit(appliedIndex: 1)
        #expect(throws: MVCCError.self) { try MVCCStore.open(backend: inner, rangeID: RangeID(2)) }
    }

    @Test func pageStoreMarksBufferedFilesAndKeepsTheFlag() throws {
        let path = "/tmp/flotilla-wb-flag-\(getpid()).db"
        unlink(path)
        defer { unlink(path) }
        var backend = try PageStoreBackend.open(path: path)
        let store = try MVCCStore.create(backend: backend, rangeID: RangeID(2), start: [], end: nil)
        try store.put("a", "1", at: 2)
        try store.commit(appliedIndex: 1)
        #expect(backend.file.currentMetaForTesting.flags & Meta.writeBuffer == 0, "no buffered record: no flag")
        let buffered = try WriteBufferedBackend(inner: backend, options: .init(flushThreshold: 1, minChunk: 100))
        let s2 = try MVCCStore.open(backend: buffered, rangeID: RangeID(2))
        try s2.put("b", "2", at: 3)
        try s2.commit(appliedIndex: 2)
        #expect(backend.file.currentMetaForTesting.flags & Meta.writeBuffer != 0)
        // The cycle empties the buffer; the flag stays (a format feature, not a state).
        for i in 0..<4 { s2.setAppliedIndex(UInt64(3 + i)); try s2.commit(appliedIndex: UInt64(3 + i)) }
        #expect(try backend.view { rtx in try rtx.get(.buffer, BufferKey.make(recordKey: RecordKey.make(b("b"), Revision(main: 3)))) } == nil)
        backend.file.close()
        backend = try PageStoreBackend.open(path: path)
        #expect(backend.file.currentMetaForTesting.flags & Meta.writeBuffer != 0)
        #expect(try MVCCStore.open(backend: try WriteBufferedBackend(inner: backend), rangeID: RangeID(2)).get("b")?.value == b("2"))
        backend.file.close()
    }

    @Test func snapshotsStreamBufferedRecordsAndIngestReplacesThem() throws {
        let source = try WriteBufferedBackend(inner: InMemoryBackend(), options: .init(flushThreshold: 25, minChunk: 3))
        let s = try freshStore(source)
        var rev: Int64 = 1
        for i in 0..<60 {
            rev += 1
            try s.put(Self.key(i % 40), "v\(i)", at: rev, lease: Int64(i % 2))
            if i % 5 == 4 { try s.commit(appliedIndex: UInt64(rev)) }
        }
        try s.commit(appliedIndex: 500)
        #expect(source.bufferedRecords > 0)
        var chunks: [[UInt8]] = []
        try s.writeSnapshot(chunkBytes: 512) { chunks.append($0) }
        // The target has records of its own in the span, some of them buffered.
        let targetInner = InMemoryBackend()
        let target = try WriteBufferedBackend(inner: targetInner, options: .init(flushThreshold: 1000))
        let old = try freshStore(target)
        for i in 0..<20 { try old.put(Self.key(i * 2), "old\(i)", at: Int64(1000 + i)) }
        try old.commit(appliedIndex: 7)
        #expect(targetInner.contents(.buffer).count == 20)
        let ingested = try MVCCStore.ingestSnapshot(backend: target, chunks: chunks)
        #expect(targetInner.contents(.buffer).isEmpty, "ingest removed the span's buffered records")
        #expect(Self.same(try Self.records(target), try Self.records(source)))
        let all = RangeRequest(key: [0], rangeEnd: [0])
        #expect(try ingested.range(all) == s.range(all))
        #expect(try ingested.hashKV(atRevision: 0) == s.hashKV(atRevision: 0))
        #expect(try ingested.keys(attachedTo: 1) == s.keys(attachedTo: 1))
        // Into a plain backend as well.
        let plain = try MVCCStore.ingestSnapshot(backend: InMemoryBackend(), chunks: chunks)
        #expect(try plain.range(all) == s.range(all))
        // Drop removes buffered records too.
        try s.drop()
        #expect(try Self.records(source).isEmpty)
        #expect((source.inner as! InMemoryBackend).contents(.buffer).isEmpty)
    }

    /// A crash (the process dies: nothing after the last good commit survives, the cycle's
    /// memory is lost) at every fault point of every commit while cycles run, on a file.
    @Test func crashAtEveryPointOfAFlushCycle() async throws {
        try await onOwnThread {
            let path = "/tmp/flotilla-wb-crash-\(getpid()).db"
            let points: [FaultPoint] = [.growFile, .writeData, .syncData, .writeMeta, .syncMeta]
            let commits = 14
            for crashCommit in 3..<commits {
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
                    let wb = WriteBufferOptions(flushThreshold: 30, minChunk: 4)
                    let s = try MVCCStore.create(backend: try WriteBufferedBackend(inner: PageStoreBackend(file: file), options: wb),
                                                 rangeID: RangeID(2), start: [], end: nil)
                    var model: [[UInt8]: [UInt8]] = [:]
                    var committedModel = model
                    var committedIndex: UInt64 = 0
                    var rev: Int64 = 1
                    var crashed = false
                    for c in 1...commits {
                        for j in 0..<9 {
                            rev += 1
                            let k = b(Self.key((c * 31 + j * 17) % 70))
                            let v = b("v\(c).\(j)")
                            try s.put(PutRequest(key: k, value: v), revision: rev)
                            model[k] = v
                        }
                        fire.on.withLock { $0 = c == crashCommit }
                        do {
                            try s.commit(appliedIndex: UInt64(c))
                            committedModel = model
                            committedIndex = UInt64(c)
                        } catch {
                            crashed = true
                            break
                        }
                    }
                    #expect(crashed || point == .growFile, "the fault at \(point) fired in commit \(crashCommit)")
                    file.abandonForTesting()
                    let context = "crash in commit \(crashCommit) at \(point) (fired: \(crashed))"
                    let reopenedFile = try PageFile.open(path: path)
                    defer { reopenedFile.close() }
                    #expect(try reopenedFile.check().problems.isEmpty, "\(context)")
                    let backend = try WriteBufferedBackend(inner: PageStoreBackend(file: reopenedFile), options: wb)
                    let r = try MVCCStore.open(backend: backend, rangeID: RangeID(2))
                    // Without deferred meta sync a commit whose meta was written survives.
                    let want = r.appliedIndex == committedIndex ? committedModel : model
                    #expect(r.appliedIndex == committedIndex || r.appliedIndex == committedIndex + 1, "\(context)")
                    let got = try r.range(RangeRequest(key: [0], rangeEnd: [0])).kvs
                    #expect(got.map(\.key) == want.keys.sorted(by: Bytes.less), "\(context)")
                    #expect(got.allSatisfy { want[$0.key] == $0.value }, "\(context)")
                    // Each record once, and the next cycles go on from whatever the crash left.
                    let recs = try Self.records(backend)
                    #expect(Set(recs.map(\.0)).count == recs.count, "\(context)")
                    var next = rev + 100
                    for i in 0..<80 {
                        next += 1
                        try r.put(Self.key(i % 70), "after\(i)", at: next)
                        if i % 8 == 7 { try r.commit(appliedIndex: r.appliedIndex + 1) }
                    }
                    #expect(try r.range(RangeRequest(key: [0], rangeEnd: [0])).kvs.allSatisfy { $0.value.starts(with: b("after")) }, "\(context)")
                    #expect(try reopenedFile.check().problems.isEmpty, "\(context)")
                }
            }
        }
    }
}

extension ModelBasedTests {
    /// The model-based run through a write buffer with tiny thresholds (cycles start and end
    /// all the time), crash-and-reopen included (the cycle's memory is lost, the inner
    /// backend keeps its last commit); at the end the logical records equal those of a
    /// replica without a buffer.
    @Test(arguments: [UInt64(21), 22, 23, 24, 25, 26, 27, 28])
    func writeBufferedInMemory(seed: UInt64) async throws {
        try await onOwnThread {
            var g = SeededGenerator(seed: seed)
            let o = WriteBufferOptions(flushThreshold: Int.random(in: 1...30, using: &g), minChunk: Int.random(in: 1...6, using: &g))
            let inner = InMemoryBackend()
            let replica = try Replica(
                backend: try WriteBufferedBackend(inner: inner, options: o),
                reopen: { try WriteBufferedBackend(inner: inner, options: o) })
            let twin = try Replica(backend: InMemoryBackend(), reopen: nil)
            try Self.run(seed: seed, steps: 2500, replica: replica, twin: twin)
            try replica.groupCommit()
            try twin.groupCommit()
            #expect(WriteBufferTests.same(try WriteBufferTests.records(replica.backend), try WriteBufferTests.records(twin.backend)),
                    "seed \(seed) options \(o)")
        }
    }

    @Test(arguments: [UInt64(31), 32, 33])
    func writeBufferedPageStore(seed: UInt64) async throws {
        try await onOwnThread {
            var g = SeededGenerator(seed: seed)
            let o = WriteBufferOptions(flushThreshold: Int.random(in: 1...40, using: &g), minChunk: Int.random(in: 1...6, using: &g))
            let path = "/tmp/flotilla-mvcc-wb-model-\(getpid())-\(seed).db"
            unlink(path)
            defer { unlink(path) }
            var options = PageFileOptions()
            options.durable = false
            let file = Mutex2(try PageStoreBackend.open(path: path, options: options))
            let replica = try Replica(
                backend: try WriteBufferedBackend(inner: file.value, options: o),
                reopen: {
                    file.value.file.close()
                    file.value = try PageStoreBackend.open(path: path, options: options)
                    return try WriteBufferedBackend(inner: file.value, options: o)
                })
            let twin = try Replica(backend: InMemoryBackend(), reopen: nil)
            try Self.run(seed: seed, steps: 1500, replica: replica, twin: twin)
            try replica.groupCommit()
            try twin.groupCommit()
            #expect(WriteBufferTests.same(try WriteBufferTests.records(replica.backend), try WriteBufferTests.records(twin.backend)),
                    "seed \(seed) options \(o)")
            #expect(try file.value.file.check().problems.isEmpty)
            file.value.file.close()
        }
    }
}

extension WriteBufferTests {
    /// A cycle waits for `flushFraction` of all records (tree and buffer), not only the absolute
    /// threshold (a small absolute threshold would keep a large tree's leaves rewritten for a
    /// handful of records each).
    @Test func theWindowFollowsTheRecordsTreeSize() throws {
        #expect(WriteBufferOptions(flushThreshold: 10, flushFraction: 0.2).threshold(records: 500) == 100)
        #expect(WriteBufferOptions(flushThreshold: 10, flushFraction: 0.2).threshold(records: 499) == 100)
        #expect(WriteBufferOptions(flushThreshold: 10, flushFraction: 0.25).threshold(records: 8) == 10)
        #expect(WriteBufferOptions(flushThreshold: 10, flushFraction: 0).threshold(records: 400) == 10)
        // 400 records reach the tree through an ingest (ordered puts go straight to it).
        let source = try freshStore(InMemoryBackend())
        for i in 0..<400 { try source.put(Self.key(i), "s", at: Int64(2 + i)) }
        try source.commit(appliedIndex: 1)
        var chunks: [[UInt8]] = []
        try source.writeSnapshot { chunks.append($0) }
        let inner = InMemoryBackend()
        let backend = try WriteBufferedBackend(inner: inner, options: .init(flushThreshold: 10, flushFraction: 0.2, minChunk: 1000))
        let s = try MVCCStore.ingestSnapshot(backend: backend, chunks: chunks)
        #expect(inner.contents(.records).count == 400 && inner.contents(.buffer).isEmpty)
        let treeWrites = inner.writeCount(.records)
        var rev: Int64 = 1000
        for i in 0..<99 {
            rev += 1
            try s.put(Self.key(i), "b", at: rev)
            try s.commit(appliedIndex: UInt64(10 + i))
        }
        #expect(inner.writeCount(.records) == treeWrites, "99 buffered records < 20% of 499: no cycle yet")
        rev += 1
        try s.put(Self.key(99), "b", at: rev)
        try s.commit(appliedIndex: 200)
        #expect(inner.writeCount(.records) == treeWrites + 100, "the 100th buffered record starts the cycle (one chunk copies all)")
        #expect(try s.range(RangeRequest(key: [0], rangeEnd: [0])).kvs.filter { $0.value == b("b") }.count == 100)
    }
}
