import Base
import Foundation
import MVCC
@testable import Node
import Synchronization
import Testing
import TestThreads

/// The streaming snapshot path of a node without a cluster: `SnapshotSendSource` (pull,
/// compress chunk by chunk) → `NodeHost.stageSnapshot` (decompress into a staging file,
/// checksum) → `MVCCStore.ingestSnapshot` reading the staged file in pieces.
@Suite struct StreamingSnapshotTests {
    func withDirectory(_ body: (String) async throws -> Void) async throws {
        let dir = NSTemporaryDirectory() + "flotilla-streamsnap-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await body(dir)
    }

    @Sendable func populated(_ backend: PageStoreBackend, keys: Int) throws -> MVCCStore {
        let store = try MVCCStore.create(backend: backend, rangeID: RangeID(9), start: [], end: nil)
        var rng = SeededGenerator(seed: 11)
        for i in 0..<keys {
            var v = [UInt8](repeating: 0x20, count: 1024)
            for j in 0..<512 { v[j] = UInt8.random(in: 0...255, using: &rng) }
            _ = try store.put(PutRequest(key: Array("k\(i)".utf8), value: v), revision: Int64(i + 1))
        }
        try store.commit(appliedIndex: UInt64(keys))
        return store
    }

    @Test func sentChunksStageAndIngestAsTheSegmentStream() async throws {
        try await withDirectory { dir in
            let src = try PageStoreBackend.open(path: dir + "/src.db")
            let dst = try PageStoreBackend.open(path: dir + "/dst.db")
            defer { src.file.close(); dst.file.close() }
            // Building the store is long synchronous work: off the cooperative pool.
            let store = try await onOwnThread { try populated(src, keys: 3_000) }
            var segment: [UInt8] = []
            try store.writeSnapshot(chunkBytes: 64 << 10) { segment += $0 }

            let source = try await SnapshotSendSource.open(store, chunkBytes: 64 << 10)
            #expect(source.appliedIndex == 3_000)
            let sent = SentSizes()
            let counted = AsyncThrowingStream<[UInt8], any Error>(unfolding: {
                guard let c = try await source.next() else { return nil }
                sent.add(c.count)
                return c
            })
            let staging = dir + "/snapshots"
            let (staged, received) = try await NodeHost.stageSnapshot(counted, directory: staging, range: RangeID(9))
            let sizes = sent.all
            #expect(sizes.count > 10, "sent chunk by chunk")
            #expect(received == sizes.reduce(0, +) && received == source.compressedBytes)
            #expect(source.logicalBytes == segment.count && staged.byteCount == segment.count)
            #expect(received < segment.count, "compressed")
            #expect(Array(staged.chunks(pieceBytes: 1 << 30).joined()) == segment)

            // Pieces of an odd size split frames anywhere; ingest joins them.
            let copy = try MVCCStore.ingestSnapshot(backend: dst, chunks: staged.chunks(pieceBytes: 3_001))
            #expect(copy.appliedIndex == 3_000)
            let all = RangeRequest(key: [0], rangeEnd: [0])
            #expect(try copy.range(all) == store.range(all))
            #expect(FileManager.default.fileExists(atPath: staged.path))
            staged.remove()
            #expect(try FileManager.default.contentsOfDirectory(atPath: staging).isEmpty)
        }
    }

    @Test func aCorruptedStreamLeavesNoStagingFile() async throws {
        try await withDirectory { dir in
            let src = try PageStoreBackend.open(path: dir + "/src.db")
            defer { src.file.close() }
            let store = try await onOwnThread { try populated(src, keys: 500) }
            var (chunks, _, _) = try NodeHost.compressSegment(store, chunkBytes: 32 << 10)
            #expect(chunks.count > 2)
            chunks[1][chunks[1].count / 2] ^= 0x40
            let frozen = chunks
            let stream = AsyncThrowingStream<[UInt8], any Error> { c in
                for chunk in frozen { c.yield(chunk) }
                c.finish()
            }
            let staging = dir + "/snapshots"
            await #expect(throws: (any Error).self) {
                _ = try await NodeHost.stageSnapshot(stream, directory: staging, range: RangeID(9))
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: staging).isEmpty)
        }
    }

    @Test func staleStagingFilesAreCleared() throws {
        let dir = NSTemporaryDirectory() + "flotilla-staging-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var staged = try StagedSnapshot.create(directory: dir, range: RangeID(3))
        try [UInt8](repeating: 7, count: 10).withUnsafeBytes { try staged.append($0) }
        #expect(staged.prefix(4) == [7, 7, 7, 7])
        StagedSnapshot.clear(directory: dir)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }
}

/// Chunk sizes seen by a stream's producer closure (which must be `@Sendable`).
final class SentSizes: Sendable {
    private let sizes = Mutex<[Int]>([])
    func add(_ n: Int) { sizes.withLock { $0.append(n) } }
    var all: [Int] { sizes.withLock { $0 } }
}
