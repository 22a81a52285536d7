import Base
import Foundation
import RaftCore
import Testing
@testable import WAL

/// Appends write zeros a stretch ahead of the log's end (`WALOptions.zeroAheadBytes`), so the
/// following appends overwrite written blocks; the zeros never touch a frame and the log
/// reads back the same after a reopen, with and without preallocation.
@Suite struct WALZeroAheadTests {
    let r1 = RangeID(1)

    func bytes(_ path: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: path) ?? Data()) }

    @Test(arguments: [true, false]) func zerosRunAheadOfTheFramesOncePerStretch(preallocate: Bool) throws {
        let dir = TempDir()
        let options = WALOptions(segmentBytes: 256 << 10, preallocate: preallocate, zeroAheadBytes: 16 << 10, cacheBytesPerRange: 0)
        let (wal, _) = try WriteAheadLog.open(directory: dir.path, options: options)
        var next: UInt64 = 1
        var written: [Entry] = []
        for i in 0..<400 {
            let entries = makeEntries(term: 1, from: next, count: 1 + i % 3, size: 40 + (i * 37) % 300, tag: UInt8(truncatingIfNeeded: i))
            try wal.append([.entries(r1, entries), .hardState(r1, HardState(term: 1, vote: 1, commit: next))])
            written += entries
            next += UInt64(entries.count)
            // Everything from the log's end to the zeroed mark reads as zeros, and the
            // file reaches that mark (the blocks are written, not holes or unwritten extents).
            let end = wal.withCoreForTesting { $0.writeOffset }
            let zeroed = wal.withCoreForTesting { $0.zeroedThrough }
            #expect(zeroed >= end)
            let file = bytes(dir.segmentPaths.last!)
            #expect(file.count >= zeroed)
            #expect(file[end..<zeroed].allSatisfy { $0 == 0 })
        }
        let stats = wal.stats
        // One zero write per 16 KiB stretch (plus one per segment), not one per append.
        #expect(stats.zeroWrites > 0)
        #expect(stats.zeroWrites <= stats.bytesWritten / (16 << 10) + UInt64(dir.segmentPaths.count) + 1)
        #expect(stats.zeroWrites < 400 / 4)
        wal.close()
        let (reopened, _) = try WriteAheadLog.open(directory: dir.path, options: options)
        #expect(try readAllEntries(reopened, r1) == written)
        // Appends after the reopen continue the log and zero ahead again.
        let more = makeEntries(term: 1, from: next, count: 2, size: 100)
        try reopened.append([.entries(r1, more)])
        reopened.close()
        let (again, _) = try WriteAheadLog.open(directory: dir.path, options: options)
        #expect(try readAllEntries(again, r1) == written + more)
        again.close()
    }

    /// A write torn at the log's end lies between the last frame and the zeros: still a
    /// torn tail, cut off at reopen, and the log goes on from there.
    @Test func tornFrameBeforeTheZerosIsATornTail() throws {
        let dir = TempDir()
        let options = WALOptions(segmentBytes: 1 << 20, preallocate: false, zeroAheadBytes: 64 << 10, cacheBytesPerRange: 0)
        let (wal, _) = try WriteAheadLog.open(directory: dir.path, options: options)
        for i in 0..<5 { try wal.append([.entries(r1, makeEntries(term: 1, from: UInt64(i * 3 + 1), count: 3, size: 64))]) }
        let end = wal.withCoreForTesting { $0.writeOffset }
        wal.close()
        let h = FileHandle(forUpdatingAtPath: dir.segmentPaths[0])!
        try h.seek(toOffset: UInt64(end))
        h.write(Data([0x41, 0x00, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78, 1, 2, 3]))
        try h.close()
        let (reopened, report) = try WriteAheadLog.open(directory: dir.path, options: options)
        #expect(report.tornTail?.offset == end)
        #expect(try readAllEntries(reopened, r1) == makeEntries(term: 1, from: 1, count: 15, size: 64))
        try reopened.append([.entries(r1, makeEntries(term: 2, from: 16, count: 1))])
        reopened.close()
        let (again, report2) = try WriteAheadLog.open(directory: dir.path, options: options)
        #expect(report2.tornTail == nil)
        #expect(try readAllEntries(again, r1).count == 16)
        again.close()
    }

    @Test func zeroAheadOffWritesNoZeros() throws {
        let dir = TempDir()
        let options = WALOptions(segmentBytes: 64 << 10, preallocate: false, zeroAheadBytes: 0, cacheBytesPerRange: 0)
        let (wal, _) = try WriteAheadLog.open(directory: dir.path, options: options)
        try wal.append([.entries(r1, makeEntries(term: 1, from: 1, count: 3, size: 50))])
        #expect(wal.stats.zeroWrites == 0)
        #expect(fileSize(dir.segmentPaths.last!) == wal.withCoreForTesting { $0.writeOffset })
        wal.close()
    }
}
