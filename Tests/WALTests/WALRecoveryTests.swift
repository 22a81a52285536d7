import Base
import Foundation
import RaftCore
import Testing
import TestThreads
@testable import WAL

@Suite struct WALRecoveryTests {
    let r1 = RangeID(1)

    /// Writes three batches and returns the directory and the offset where the last one starts.
    func threeBatches() throws -> (TempDir, lastFrameStart: Int, end: Int) {
        let dir = TempDir()
        let (wal, _) = try WriteAheadLog.open(directory: dir.path, options: WALOptions(preallocate: false, zeroAheadBytes: 0))
        try wal.append([.entries(r1, makeEntries(term: 1, from: 1, count: 3))])
        try wal.append([.entries(r1, makeEntries(term: 1, from: 4, count: 3))])
        let lastStart = fileSize(dir.segmentPaths[0])
        try wal.append([.entries(r1, makeEntries(term: 1, from: 7, count: 3))])
        wal.close()
        return (dir, lastStart, fileSize(dir.segmentPaths[0]))
    }

    @Test func tornTailAtEveryCutIsTruncated() async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            let (dir, lastStart, end) = try threeBatches()
            let original = try Data(contentsOf: URL(fileURLWithPath: dir.segmentPaths[0]))
            for cut in stride(from: lastStart + 1, to: end, by: 3) {
                try original.prefix(cut).write(to: URL(fileURLWithPath: dir.segmentPaths[0]))
                let (wal, report) = try WriteAheadLog.open(directory: dir.path, options: WALOptions(preallocate: false, zeroAheadBytes: 0))
                #expect(report.tornTail?.offset == lastStart, "cut at \(cut)")
                #expect(try readAllEntries(wal, r1) == makeEntries(term: 1, from: 1, count: 6), "cut at \(cut)")
                // The log continues after the cut and a second reopen sees no tear.
                try wal.append([.entries(r1, makeEntries(term: 2, from: 7, count: 1))])
                wal.close()
                let (again, report2) = try WriteAheadLog.open(directory: dir.path, options: WALOptions(preallocate: false, zeroAheadBytes: 0))
                #expect(report2.tornTail == nil, "cut at \(cut)")
                #expect(try readAllEntries(again, r1).last == makeEntries(term: 2, from: 7, count: 1)[0])
                again.close()
            }
        }
    }

    @Test func garbageAfterTheLastFrameIsATornTail() throws {
        let (dir, _, end) = try threeBatches()
        let h = FileHandle(forUpdatingAtPath: dir.segmentPaths[0])!
        try h.seekToEnd()
        h.write(Data([0x41, 0x00, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78, 1, 2, 3]))
        try h.close()
        let (wal, report) = try WriteAheadLog.open(directory: dir.path, options: WALOptions(preallocate: false, zeroAheadBytes: 0))
        #expect(report.tornTail?.offset == end)
        #expect(try readAllEntries(wal, r1).count == 9)
    }

    @Test func flippedBitInTheMiddleStopsTheNodeNamingFileAndOffset() throws {
        let (dir, lastStart, _) = try threeBatches()
        let path = dir.segmentPaths[0]
        flipBit(path: path, offset: WALFormat.headerSize + 20)
        #expect {
            _ = try WriteAheadLog.open(directory: dir.path, options: WALOptions(preallocate: false, zeroAheadBytes: 0))
        } throws: { error in
            guard case WALError.corrupt(let p, let offset, _) = error else { return false }
            return p == path && offset == WALFormat.headerSize && offset < lastStart
        }
    }

    /// A closed log of 30 batches spread over several 1 KiB segments.
    func multiSegmentLog() throws -> (TempDir, WALOptions) {
        let dir = TempDir()
        let options = WALOptions(segmentBytes: 1024, preallocate: false, zeroAheadBytes: 0)
        let (wal, _) = try WriteAheadLog.open(directory: dir.path, options: options)
        for i in 0..<30 { try wal.append([.entries(r1, makeEntries(term: 1, from: UInt64(i * 4 + 1), count: 4, size: 30))]) }
        wal.close()
        return (dir, options)
    }

    @Test func corruptionInASealedSegmentIsNeverTreatedAsTorn() throws {
        let (dir, options) = try multiSegmentLog()
        let paths = dir.segmentPaths
        #expect(paths.count >= 3)
        // Cut the middle segment short: its seal is lost.
        let data = try Data(contentsOf: URL(fileURLWithPath: paths[1]))
        try data.prefix(data.count - 20).write(to: URL(fileURLWithPath: paths[1]))
        #expect(throws: WALError.self) { _ = try WriteAheadLog.open(directory: dir.path, options: options) }
    }

    @Test func missingSegmentIsReported() throws {
        let (dir, options) = try multiSegmentLog()
        let paths = dir.segmentPaths
        try FileManager.default.removeItem(atPath: paths[1])
        #expect(throws: WALError.missingSegment(path: paths[1])) {
            _ = try WriteAheadLog.open(directory: dir.path, options: options)
        }
    }

    @Test func foreignFileIsRejected() throws {
        let dir = TempDir()
        try Data(repeating: 7, count: 100).write(to: URL(fileURLWithPath: dir.path + "/0000000000000001.wal"))
        #expect {
            _ = try WriteAheadLog.open(directory: dir.path)
        } throws: { error in
            if case WALError.badSegmentHeader = error { return true }
            return false
        }
    }

    /// Crashes at every fault point of the write path (including rotation) and checks that
    /// reopening finds every acknowledged batch and nothing half-applied.
    @Test(arguments: WALFaultPoint.allCases.filter { $0 != .beforeSegmentDelete })
    func crashAtFaultPointLosesNoAcknowledgedWrite(point: WALFaultPoint) async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            let dir = TempDir()
            let armed = Armed()
            var options = WALOptions(segmentBytes: 2048, preallocate: false)
            options.faultHook = { p throws(WALError) in if p == point && armed.fire() { throw .injectedFault(p.rawValue) } }
            let (wal, _) = try WriteAheadLog.open(directory: dir.path, options: options)
            var acknowledged: [Entry] = []
            var crashedWith: [Entry] = []
            for i in 0..<60 {
                let es = makeEntries(term: 1, from: UInt64(i * 2 + 1), count: 2, size: 40)
                if i == 40 { armed.arm() }
                do {
                    try wal.append([.entries(r1, es)])
                    acknowledged += es
                } catch {
                    crashedWith = es
                    break
                }
            }
            #expect(!crashedWith.isEmpty, "fault point \(point) never fired")
            wal.close()
            let (reopened, _) = try WriteAheadLog.open(directory: dir.path, options: WALOptions(segmentBytes: 2048, preallocate: false))
            let recovered = try readAllEntries(reopened, r1)
            // Everything acknowledged is there; the crashed batch is either wholly there or absent.
            #expect(recovered == acknowledged || recovered == acknowledged + crashedWith, "point \(point)")
            try reopened.append([.entries(r1, makeEntries(term: 2, from: UInt64(recovered.count + 1), count: 1))])
            #expect(try readAllEntries(reopened, r1).count == recovered.count + 1)
        }
    }
}

/// A one-shot trigger shared with a `@Sendable` fault hook.
final class Armed: @unchecked Sendable {
    // Safe: the WAL calls the hook under its own lock, from one thread at a time.
    private var armed = false
    func arm() { armed = true }
    func fire() -> Bool {
        defer { armed = false }
        return armed
    }
}
