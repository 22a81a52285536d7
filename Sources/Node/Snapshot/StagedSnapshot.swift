import Base
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A received snapshot's decompressed segment stream, staged in a file under the data
/// directory's `snapshots/` while it arrives, so a range snapshot of any size is never
/// held in memory: the receiver appends decoded bytes as the LZ4 frame is decompressed,
/// and the poll loop ingests it only after the frame's checksum held, reading it back in
/// fixed-size pieces (`chunks`). Owns the file; `remove()` deletes it (stale ones are
/// cleared when the node starts).
struct StagedSnapshot: Sendable {
    let path: String
    private let fd: Int32
    private(set) var byteCount = 0

    /// Creates a fresh staging file for `range` in `directory` (created if needed).
    static func create(directory: String, range: RangeID) throws -> StagedSnapshot {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let path = directory + "/range-\(range.rawValue)-\(UUID().uuidString).seg"
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SnapshotFailure("cannot create \(path): errno \(errno)") }
        return StagedSnapshot(path: path, fd: fd)
    }

    /// Removes every staged file left in `directory` (a crash mid-transfer).
    static func clear(directory: String) {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasSuffix(".seg") { try? fm.removeItem(atPath: directory + "/" + name) }
    }

    /// Appends decoded bytes at the end of the file.
    mutating func append(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(byteCount + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw SnapshotFailure("cannot write \(path): errno \(errno)") }
            done += n
        }
        byteCount += done
    }

    /// Up to `maxBytes` from the start of the file (the segment header lies there).
    func prefix(_ maxBytes: Int) -> [UInt8] {
        var first = Chunks(fd: fd, size: byteCount, pieceBytes: max(1, min(maxBytes, byteCount))).makeIterator()
        return first.next() ?? []
    }

    /// The staged bytes in pieces of `pieceBytes` (pieces split frames anywhere; the MVCC
    /// decoder joins them). A read error ends the sequence early, which ingest rejects as a
    /// truncated stream.
    func chunks(pieceBytes: Int) -> Chunks { Chunks(fd: fd, size: byteCount, pieceBytes: pieceBytes) }

    struct Chunks: Sequence, Sendable {
        let fd: Int32
        let size: Int
        let pieceBytes: Int

        struct Iterator: IteratorProtocol {
            let chunks: Chunks
            var offset = 0
            mutating func next() -> [UInt8]? {
                guard offset < chunks.size else { return nil }
                let want = Swift.min(chunks.pieceBytes, chunks.size - offset)
                var failed = false
                let piece = [UInt8](unsafeUninitializedCapacity: want) { buf, count in
                    count = 0
                    while count < want {
                        let n = pread(chunks.fd, buf.baseAddress! + count, want - count, off_t(offset + count))
                        if n < 0 && errno == EINTR { continue }
                        guard n > 0 else { failed = true; return }
                        count += n
                    }
                }
                if failed { return nil }
                offset += piece.count
                return piece
            }
        }

        func makeIterator() -> Iterator { Iterator(chunks: self) }
    }

    /// Closes and deletes the file.
    func remove() {
        close(fd)
        unlink(path)
    }
}
