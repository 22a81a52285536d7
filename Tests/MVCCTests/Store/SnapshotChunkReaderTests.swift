#if canImport(Glibc)
import Glibc
#endif
import Base
import PageStore
import Testing

@testable import MVCC

/// The pull-based snapshot reader (one read transaction, chunk by chunk, bounded
/// read-ahead) and the decoder's acceptance of chunks split anywhere.
@Suite struct SnapshotChunkReaderTests {
    func populate(_ s: MVCCStore, keys: Int, valueBytes: Int = 100) throws {
        var rev: Int64 = 1
        for i in 0..<keys {
            rev += 1
            try s.put("key\(100_000 + i)", String(repeating: "v", count: valueBytes), at: rev, lease: Int64(i % 2))
        }
        try s.commit(appliedIndex: 77)
    }

    func pullAll(_ reader: SnapshotChunkReader) async throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        while let c = try await reader.next() { out.append(c) }
        return out
    }

    @Test func yieldsTheSameStreamAsWriteSnapshot() async throws {
        let s = try freshStore(InMemoryBackend())
        try populate(s, keys: 500)
        var pushed: [[UInt8]] = []
        try s.writeSnapshot(chunkBytes: 2048) { pushed.append($0) }
        let pulled = try await pullAll(s.snapshotReader(chunkBytes: 2048, depth: 2))
        #expect(pushed.count > 10)
        #expect(pulled == pushed)
        #expect(try await s.snapshotReader().next().flatMap(SegmentSnapshot.peekHeader)?.appliedIndex == 77)
    }

    @Test func ingestAcceptsChunksSplitAnywhere() throws {
        let seed = UInt64.random(in: 1...UInt64.max)
        var rng = SeededGenerator(seed: seed)
        let s = try freshStore(InMemoryBackend())
        try populate(s, keys: 300)
        var chunks: [[UInt8]] = []
        try s.writeSnapshot(chunkBytes: 1000) { chunks.append($0) }
        let whole = chunks.flatMap { $0 }
        for _ in 0..<5 {
            // Pieces of 1 byte to 5,000 bytes, cut without regard to frames.
            var pieces: [[UInt8]] = []
            var i = 0
            while i < whole.count {
                let n = min(whole.count - i, Int.random(in: 1...5_000, using: &rng))
                pieces.append(Array(whole[i..<i + n]))
                i += n
            }
            let ingested = try MVCCStore.ingestSnapshot(backend: InMemoryBackend(), chunks: pieces)
            #expect(try ingested.hashKV() == s.hashKV(), "seed \(seed)")
            #expect(ingested.appliedIndex == 77, "seed \(seed)")
            #expect(try ingested.keys(attachedTo: 1) == s.keys(attachedTo: 1), "seed \(seed)")
        }
        // Cut one byte short: truncated, whatever the split.
        let short = [Array(whole.dropLast())]
        #expect(throws: MVCCError.self) { _ = try MVCCStore.ingestSnapshot(backend: InMemoryBackend(), chunks: short) }
    }

    @Test func oneReadTransactionSeesNoLaterCommitAndEndsWhenDropped() async throws {
        let path = "/tmp/flotilla-mvcc-reader-\(getpid()).db"
        unlink(path)
        defer { unlink(path) }
        let backend = try PageStoreBackend.open(path: path)
        defer { backend.file.close() }
        let s = try freshStore(backend)
        try populate(s, keys: 3_000)
        #expect(backend.file.stats.openReadTransactions == 0)

        // Full read while the store moves on: the stream is the state at the first chunk.
        let reader = s.snapshotReader(chunkBytes: 4096, depth: 1)
        var chunks = [try #require(try await reader.next())]
        #expect(backend.file.stats.openReadTransactions == 1)
        try s.put("key000000-late", "late", at: 10_000)
        try s.commit(appliedIndex: 78)
        while let c = try await reader.next() { chunks.append(c) }
        #expect(chunks.count > 20)
        let ingested = try MVCCStore.ingestSnapshot(backend: InMemoryBackend(), chunks: chunks)
        #expect(ingested.appliedIndex == 77)
        #expect(try ingested.get("key000000-late") == nil)
        #expect(try ingested.get("key100010") != nil)
        try await waitFor { backend.file.stats.openReadTransactions == 0 }
        #expect(backend.file.stats.openReadTransactions == 0)

        // A reader dropped after one chunk stops its producer and ends the transaction.
        var partial: SnapshotChunkReader? = s.snapshotReader(chunkBytes: 4096, depth: 1)
        _ = try await partial?.next()
        try await Task.sleep(for: .milliseconds(50))
        #expect(backend.file.stats.openReadTransactions == 1, "blocked producer keeps its transaction")
        partial = nil
        try await waitFor { backend.file.stats.openReadTransactions == 0 }
        #expect(backend.file.stats.openReadTransactions == 0)
    }

    func waitFor(_ condition: () -> Bool) async throws {
        for _ in 0..<500 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
    }
}
