#if canImport(Glibc)
import Glibc
#endif
import Base
import PageStore
import Testing

@testable import MVCC

/// Streaming snapshot ingest over a real file: chunks are validated and written as they
/// arrive; a stream that turns out bad after records were written rolls the whole file
/// transaction back.
@Suite struct StreamingIngestTests {
    /// A sequence that hands out chunks one by one and counts how many were pulled.
    final class CountingChunks: Sequence {
        let chunks: [[UInt8]]
        var pulled = 0
        init(_ chunks: [[UInt8]]) { self.chunks = chunks }
        func makeIterator() -> AnyIterator<[UInt8]> {
            var i = 0
            return AnyIterator {
                guard i < self.chunks.count else { return nil }
                defer { i += 1 }
                self.pulled += 1
                return self.chunks[i]
            }
        }
    }

    func source() throws -> MVCCStore {
        let s = try freshStore(InMemoryBackend())
        var rev: Int64 = 1
        for i in 0..<400 {
            rev += 1
            try s.put("key\(1000 + i)", String(repeating: "v", count: 200), at: rev, lease: Int64(i % 3))
        }
        for i in stride(from: 0, to: 400, by: 3) {
            rev += 1
            try s.put("key\(1000 + i)", "w\(i)", at: rev)
        }
        _ = try s.deleteRange(DeleteRangeRequest(key: b("key1100"), rangeEnd: b("key1110")), revision: rev + 1)
        try s.commit(appliedIndex: 500)
        return s
    }

    @Test func badStreamAfterWrittenRecordsLeavesTheFileAsItWas() throws {
        let path = "/tmp/flotilla-mvcc-ingest-\(getpid()).db"
        unlink(path)
        defer { unlink(path) }
        let s = try source()
        var chunks: [[UInt8]] = []
        try s.writeSnapshot(chunkBytes: 4096) { chunks.append($0) }
        #expect(chunks.count > 10)
        #expect(SegmentSnapshot.peekHeader(chunks[0])?.appliedIndex == 500)
        #expect(SegmentSnapshot.peekHeader(chunks[0])?.rangeID == s.rangeID)
        #expect(SegmentSnapshot.peekHeader([0x02, 1, 2]) == nil)

        let backend = try PageStoreBackend.open(path: path)
        let stale = try freshStore(backend)
        try stale.put("key1005", "stale", at: 2)
        try stale.put("zzz", "stale", at: 3)
        try stale.commit(appliedIndex: 1)
        let txidBefore = backend.file.stats.txid

        // The trailer's checksum is wrong: only noticed after every record was written.
        var badSum = chunks
        badSum[badSum.count - 1][badSum[badSum.count - 1].count - 1] ^= 0x01
        let lazy = CountingChunks(badSum)
        #expect(mvccError { _ = try MVCCStore.ingestSnapshot(backend: backend, chunks: lazy) } == .corruptSnapshot("checksum mismatch"))
        #expect(lazy.pulled == chunks.count)
        // Truncated after a few chunks.
        #expect(mvccError { _ = try MVCCStore.ingestSnapshot(backend: backend, chunks: chunks.prefix(5)) }
            == .corruptSnapshot("no trailer (truncated stream)"))
        // Records out of order in the middle.
        var swapped = chunks
        swapped.swapAt(3, 4)
        let e = mvccError { _ = try MVCCStore.ingestSnapshot(backend: backend, chunks: swapped) }
        #expect(e == .corruptSnapshot("records out of order"))
        #expect(backend.file.stats.txid == txidBefore, "no failed ingest committed")
        let reopened = try MVCCStore.open(backend: backend, rangeID: s.rangeID)
        #expect(try reopened.get("key1005")?.value == b("stale"))
        #expect(try reopened.get("zzz")?.value == b("stale"))
        #expect(try reopened.range(RangeRequest(key: [0], rangeEnd: [0])).count == 2)

        // The good stream, pulled lazily, replaces the stale state.
        let good = CountingChunks(chunks)
        let ingested = try MVCCStore.ingestSnapshot(backend: backend, chunks: good)
        #expect(good.pulled == chunks.count)
        #expect(try ingested.range(RangeRequest(key: [0], rangeEnd: [0])).kvs == s.range(RangeRequest(key: [0], rangeEnd: [0])).kvs)
        #expect(try ingested.hashKV() == s.hashKV())
        #expect(try ingested.keys(attachedTo: 1) == s.keys(attachedTo: 1))
        #expect(try ingested.keys(attachedTo: 2) == s.keys(attachedTo: 2))
        guard case .events(let ev, _) = try ingested.events(key: [0], rangeEnd: [0], fromRevision: 1, limit: 10_000),
            case .events(let evSource, _) = try s.events(key: [0], rangeEnd: [0], fromRevision: 1, limit: 10_000)
        else {
            Issue.record("compacted")
            return
        }
        #expect(ev == evSource && ev.count > 400)
        let report = try backend.file.check()
        #expect(report.isConsistent, "\(report.problems)")
        backend.file.close()
    }
}
