public import Base
import Dispatch
import Foundation
import MVCC
import PageStore
import Synchronization

/// The 1 GiB range snapshot benchmark, in three steps meant to run as separate processes so
/// that each side's peak RSS is its own: `prepare` fills a data file with one range,
/// `send` streams that range's snapshot through the node's sender (`SnapshotSendSource`:
/// pull-based read under one read transaction, LZ4 chunk by chunk) into a file descriptor,
/// and `receive` reads the descriptor through the node's receiver (`stageSnapshot`:
/// decompress into a staging file, checksum) and ingests it (`MVCCStore.ingestSnapshot`
/// reading the staged file piece by piece), as `NodeHost` does. A pipe between `send` and
/// `receive` stands in for the peer transport (its backpressure: a full pipe blocks the
/// sender). Owns nothing beyond the files named by its caller.
public enum SnapshotBenchmark {
    static let range = RangeID(2)

    /// Creates `path` holding range 2 (whole keyspace) with about `megabytes` MiB of
    /// `valueBytes`-byte values (half random, half spaces: compressible like typical values).
    public static func prepare(path: String, megabytes: Int, valueBytes: Int = 1024) throws -> String {
        let backend = try PageStoreBackend.open(path: path)
        defer { backend.file.close() }
        let store = try MVCCStore.create(backend: backend, rangeID: range, start: [], end: nil)
        var rng = SeededGenerator(seed: 42)
        let count = megabytes << 20 / valueBytes
        let t0 = Date()
        for i in 0..<count {
            var v = [UInt8](repeating: 0x20, count: valueBytes)
            for j in 0..<(valueBytes / 2) { v[j] = UInt8.random(in: 0...255, using: &rng) }
            _ = try store.put(PutRequest(key: Array(String(format: "key-%09d", i).utf8), value: v),
                              revision: Int64(i + 1))
            if i % 10_000 == 9_999 { try store.commit(appliedIndex: UInt64(i + 1)) }
        }
        try store.commit(appliedIndex: UInt64(count))
        return String(format: "prepared %d keys x %d B in %.1f s, data file %.1f MiB", count, valueBytes,
                      Date().timeIntervalSince(t0), Double(backend.file.stats.fileBytes) / 1_048_576)
    }

    /// Streams range 2's snapshot from the data file at `path` to `fd` (blocking writes).
    public static func send(path: String, fd: Int32, chunkBytes: Int = 1 << 20) async throws -> String {
        let backend = try PageStoreBackend.open(path: path)
        defer { backend.file.close() }
        let store = try MVCCStore.open(backend: backend, rangeID: range)
        let rssBefore = peakRSSBytes()
        let anon = AnonRSSSampler()
        let anonBefore = anon.current
        let t0 = Date()
        let source = try await SnapshotSendSource.open(store, chunkBytes: chunkBytes)
        for try await chunk in source.stream() {
            try chunk.withUnsafeBytes { try writeAll(fd, $0) }
        }
        close(fd)
        let seconds = Date().timeIntervalSince(t0)
        let logical = Double(source.logicalBytes) / 1_048_576
        let compressed = Double(source.compressedBytes) / 1_048_576
        let anonPeak = anon.stop()
        return String(format: "sender: %.1f MiB logical -> %.1f MiB compressed in %.2f s (%.1f MiB/s logical, %.1f MiB/s compressed); peak RSS %.1f MiB (%.1f MiB after opening the store; mapped file pages included); anonymous RSS %.1f MiB before sending, peak %.1f MiB while sending",
                      logical, compressed, seconds, logical / seconds, compressed / seconds,
                      Double(peakRSSBytes()) / 1_048_576, Double(rssBefore) / 1_048_576,
                      Double(anonBefore) / 1_048_576, Double(anonPeak) / 1_048_576)
    }

    /// Reads a snapshot from `fd` (stage + checksum), then ingests it into a new data file
    /// at `path`; checks the ingested range's applied index.
    public static func receive(path: String, stagingDirectory: String, fd: Int32,
                               chunkBytes: Int = 1 << 20) async throws -> String {
        let backend = try PageStoreBackend.open(path: path)
        defer { backend.file.close() }
        let anonReceive = AnonRSSSampler()
        let t0 = Date()
        let chunks = AsyncThrowingStream<[UInt8], any Error>(unfolding: {
            let piece = try readSome(fd, max: chunkBytes)
            return piece.isEmpty ? nil : piece
        })
        let (staged, received) = try await NodeHost.stageSnapshot(chunks, directory: stagingDirectory, range: range)
        defer { staged.remove() }
        let t1 = Date()
        let peakStaging = peakRSSBytes()
        let anonReceivePeak = anonReceive.stop()
        let anonIngest = AnonRSSSampler()
        let store = try MVCCStore.ingestSnapshot(backend: backend, chunks: staged.chunks(pieceBytes: chunkBytes))
        let t2 = Date()
        let anonIngestPeak = anonIngest.stop()
        let expected = SegmentSnapshot.peekHeader(staged.prefix(1 << 20))?.appliedIndex
        guard store.appliedIndex == expected else {
            throw SnapshotFailure("ingested applied index \(store.appliedIndex), stream says \(expected ?? 0)")
        }
        let logical = Double(staged.byteCount) / 1_048_576
        let compressed = Double(received) / 1_048_576
        let receiveS = t1.timeIntervalSince(t0)
        let ingestS = t2.timeIntervalSince(t1)
        return String(format: "receiver: %.1f MiB compressed -> %.1f MiB staged in %.2f s (%.1f MiB/s compressed, %.1f MiB/s logical); ingest %.2f s (%.1f MiB/s logical); peak RSS %.1f MiB while receiving, %.1f MiB overall (mapped file pages included); anonymous RSS peak %.1f MiB while receiving, %.1f MiB while ingesting; applied index %d",
                      compressed, logical, receiveS, compressed / receiveS, logical / receiveS,
                      ingestS, logical / ingestS, Double(peakStaging) / 1_048_576,
                      Double(peakRSSBytes()) / 1_048_576, Double(anonReceivePeak) / 1_048_576,
                      Double(anonIngestPeak) / 1_048_576, store.appliedIndex)
    }

    /// The process's peak resident set (`VmHWM`), in bytes. It counts pages of the mapped
    /// data file too, which the kernel can drop at will.
    public static func peakRSSBytes() -> Int { statusBytes("VmHWM:") }

    /// A `/proc/self/status` field given in kB, in bytes.
    static func statusBytes(_ field: String) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(field) {
            let kb = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            return kb * 1024
        }
        return 0
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw SnapshotFailure("write failed: errno \(errno)") }
            done += n
        }
    }

    /// Up to `max` bytes from `fd` (fewer only at the end); empty at end of file.
    static func readSome(_ fd: Int32, max: Int) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: max) { buf, count in
            count = 0
            while count < max {
                let n = read(fd, buf.baseAddress! + count, max - count)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { throw SnapshotFailure("read failed: errno \(errno)") }
                if n == 0 { return }
                count += n
            }
        }
    }
}

/// Samples the process's anonymous resident memory (`RssAnon`: heap, not mapped file pages)
/// every 20 ms on a dispatch thread until `stop()`, which returns the highest value seen.
/// Owns its sampling loop.
final class AnonRSSSampler: Sendable {
    private let peak = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    init() {
        DispatchQueue.global().async { [self] in
            while !stopped.load(ordering: .acquiring) {
                _ = peak.max(current, ordering: .relaxed)
                usleep(20_000)
            }
            done.signal()
        }
    }

    var current: Int { SnapshotBenchmark.statusBytes("RssAnon:") }

    func stop() -> Int {
        _ = peak.max(current, ordering: .relaxed)
        stopped.store(true, ordering: .releasing)
        done.wait()
        return peak.load(ordering: .relaxed)
    }
}
