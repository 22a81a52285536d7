import Base
import RaftCore
import Testing
@testable import WAL

@Suite struct WALRoundTripTests {
    let r1 = RangeID(1), r2 = RangeID(2)

    @Test func appendsSurviveReopen() throws {
        let dir = TempDir()
        do {
            let (wal, report) = try WriteAheadLog.open(directory: dir.path)
            #expect(report.records == 0)
            try wal.append([.hardState(r1, HardState(term: 2, vote: 1, commit: 0)),
                            .entries(r1, makeEntries(term: 2, from: 1, count: 5))])
            try wal.append([.entries(r2, makeEntries(term: 1, from: 1, count: 3)),
                            .hardState(r1, HardState(term: 2, vote: 1, commit: 5))])
            wal.close()
        }
        let (wal, report) = try WriteAheadLog.open(directory: dir.path)
        #expect(report.records == 4)
        #expect(report.tornTail == nil)
        #expect(try readAllEntries(wal, r1) == makeEntries(term: 2, from: 1, count: 5))
        #expect(try readAllEntries(wal, r2) == makeEntries(term: 1, from: 1, count: 3))
        #expect(wal.hardState(of: r1) == HardState(term: 2, vote: 1, commit: 5))
        #expect(wal.rangeIDs == [r1, r2])
    }

    @Test func conflictingEntriesReplaceTheSuffix() throws {
        let dir = TempDir()
        let (wal, _) = try WriteAheadLog.open(directory: dir.path)
        try wal.append([.entries(r1, makeEntries(term: 1, from: 1, count: 10))])
        try wal.append([.entries(r1, makeEntries(term: 3, from: 6, count: 2, tag: 9))])
        let expected = makeEntries(term: 1, from: 1, count: 5) + makeEntries(term: 3, from: 6, count: 2, tag: 9)
        #expect(try readAllEntries(wal, r1) == expected)
        wal.close()
        let (reopened, _) = try WriteAheadLog.open(directory: dir.path)
        #expect(try readAllEntries(reopened, r1) == expected)
        #expect(reopened.term(of: r1, at: 7) == 3)
        #expect(reopened.term(of: r1, at: 8) == nil)
    }

    @Test func compactionAndSnapshotResetMoveTheLogStart() throws {
        let dir = TempDir()
        let (wal, _) = try WriteAheadLog.open(directory: dir.path)
        try wal.append([.entries(r1, makeEntries(term: 1, from: 1, count: 10))])
        try wal.append([.compact(r1, firstIndex: 5, term: 1)])
        #expect(wal.bounds(of: r1)! == (5, 10))
        #expect(throws: StorageError.compacted) { try wal.entries(of: r1, from: 4, to: 6) }
        #expect(throws: StorageError.unavailable) { try wal.entries(of: r1, from: 5, to: 12) }
        try wal.append([.snapshotReset(r2, index: 100, term: 7), .entries(r2, makeEntries(term: 7, from: 101, count: 2))])
        wal.close()
        let (reopened, _) = try WriteAheadLog.open(directory: dir.path)
        #expect(reopened.bounds(of: r1)! == (5, 10))
        #expect(reopened.term(of: r1, at: 4) == 1)
        #expect(reopened.bounds(of: r2)! == (101, 102))
        #expect(reopened.term(of: r2, at: 100) == 7)
    }

    /// Node relies on it for `config.applied` on restart (backlog item 4): right after a
    /// reset, with no entry yet, the reset point answers the snapshot's term.
    @Test func termRightAfterSnapshotResetIsTheSnapshotTerm() throws {
        let dir = TempDir()
        let options = WALOptions(segmentBytes: 4096, preallocate: false)
        let (wal, _) = try WriteAheadLog.open(directory: dir.path, options: options)
        try wal.append([.entries(r1, makeEntries(term: 1, from: 1, count: 10))])
        try wal.append([.snapshotReset(r1, index: 50, term: 4)])
        #expect(wal.term(of: r1, at: 50) == 4)
        #expect(wal.term(of: r1, at: 10) == nil)
        #expect(wal.bounds(of: r1)! == (51, 50))
        // Survives reopening, and rotation into segments that carry it as a checkpoint.
        for i in 0..<20 { try wal.append([.entries(r2, makeEntries(term: 1, from: UInt64(i * 10 + 1), count: 10, size: 64))]) }
        #expect(dir.segmentPaths.count > 1)
        wal.close()
        let (reopened, _) = try WriteAheadLog.open(directory: dir.path, options: options)
        #expect(reopened.term(of: r1, at: 50) == 4)
        #expect(reopened.bounds(of: r1)! == (51, 50))
    }

    @Test func removedRangeIsGoneAfterReopen() throws {
        let dir = TempDir()
        let (wal, _) = try WriteAheadLog.open(directory: dir.path)
        try wal.append([.entries(r1, makeEntries(term: 1, from: 1, count: 3)), .entries(r2, makeEntries(term: 1, from: 1, count: 3))])
        try wal.append([.rangeRemoved(r1)])
        #expect(wal.rangeIDs == [r2])
        wal.close()
        let (reopened, _) = try WriteAheadLog.open(directory: dir.path)
        #expect(reopened.rangeIDs == [r2])
        #expect(reopened.bounds(of: r1) == nil)
    }

    @Test func entriesAreReadFromDiskBeyondTheCacheAndAcrossSegments() throws {
        let dir = TempDir()
        let options = WALOptions(segmentBytes: 4096, preallocate: false, cacheBytesPerRange: 64)
        let (wal, _) = try WriteAheadLog.open(directory: dir.path, options: options)
        var expected: [Entry] = []
        for batch in 0..<40 {
            let es = makeEntries(term: 1, from: UInt64(batch * 5 + 1), count: 5, size: 40, tag: UInt8(batch))
            expected += es
            try wal.append([.entries(r1, es), .hardState(r1, HardState(term: 1, vote: 1, commit: UInt64(batch * 5)))])
        }
        #expect(dir.segmentPaths.count > 3)
        #expect(try readAllEntries(wal, r1) == expected)
        #expect(try wal.entries(of: r1, from: 1, to: 201, maxBytes: 100).count == 2)
        wal.close()
        let (reopened, report) = try WriteAheadLog.open(directory: dir.path, options: options)
        #expect(report.segments == dir.segmentPaths.count)
        #expect(try readAllEntries(reopened, r1) == expected)
        #expect(reopened.hardState(of: r1) == HardState(term: 1, vote: 1, commit: 195))
    }

    @Test func groupCommitIsOneSyncPerAppend() throws {
        let dir = TempDir()
        let (wal, _) = try WriteAheadLog.open(directory: dir.path)
        for i in 0..<10 {
            let records: [WALRecord] = (1...8).map { r in
                .entries(RangeID(UInt64(r)), makeEntries(term: 1, from: UInt64(i * 4 + 1), count: 4))
            }
            try wal.append(records)
        }
        #expect(wal.stats.fsyncs == 10)
        #expect(wal.stats.entriesSynced == 320)
    }
}
