import Base
import Foundation
import MVCC
import Node
import Testing
import TestThreads

/// The snapshot byte path without a cluster: segment → LZ4 chunks → segment → ingest.
@Suite struct SnapshotStreamTests {
    func withBackends(_ body: (PageStoreBackend, PageStoreBackend) throws -> Void) throws {
        let dir = NSTemporaryDirectory() + "flotilla-snapstream-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = try PageStoreBackend.open(path: dir + "/a.db")
        let b = try PageStoreBackend.open(path: dir + "/b.db")
        defer {
            a.file.close()
            b.file.close()
        }
        try body(a, b)
    }

    @Test func multiBlockSnapshotRoundTripsAndIngests() async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            try withBackends { src, dst in
                let store = try MVCCStore.create(backend: src, rangeID: RangeID(9), start: [0x10], end: [0x20])
                var rng = SeededGenerator(seed: 3)
                // ~6 MiB of half-random values: more than one 4 MiB LZ4 block.
                for i in 0..<6_000 {
                    var v = [UInt8](repeating: 0x20, count: 1024)
                    for j in 0..<512 { v[j] = UInt8.random(in: 0...255, using: &rng) }
                    _ = try store.put(PutRequest(key: [0x10] + Array("k\(i)".utf8), value: v), revision: Int64(i + 1))
                }
                try store.commit(appliedIndex: 6_000)
                let (chunks, applied, compressed) = try NodeHost.compressSegment(store, chunkBytes: 256 << 10)
                #expect(applied == 6_000)
                #expect(chunks.count > 4 && compressed == chunks.reduce(0) { $0 + $1.count })
                let stream = try NodeHost.decompressSnapshot(chunks)
                #expect(stream.count > 6_000 * 1024)
                let copy = try MVCCStore.ingestSnapshot(backend: dst, chunks: [stream])
                #expect(copy.appliedIndex == 6_000 && copy.currentRevision == 6_000)
                let all = RangeRequest(key: [0x10], rangeEnd: [0x20])
                #expect(try copy.range(all) == store.range(all))
            }
        }
    }

    @Test func corruptedChunkIsRejected() throws {
        try withBackends { src, _ in
            let store = try MVCCStore.create(backend: src, rangeID: RangeID(9), start: [], end: nil)
            for i in 0..<200 { _ = try store.put(PutRequest(key: Array("k\(i)".utf8), value: [UInt8](repeating: UInt8(i % 7), count: 100)), revision: Int64(i + 1)) }
            try store.commit(appliedIndex: 200)
            var (chunks, _, _) = try NodeHost.compressSegment(store, chunkBytes: 1 << 20)
            let last = chunks.count - 1
            chunks[last][chunks[last].count / 2] ^= 0x01
            #expect(throws: (any Error).self) { try NodeHost.decompressSnapshot(chunks) }
        }
    }
}
