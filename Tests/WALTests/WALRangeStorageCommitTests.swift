import Base
import RaftCore
import Testing
@testable import WAL

/// A hard state that only moved the commit index is written without a sync of its own
/// (Node's `handleReadies`), so a crash can leave the WAL's last hard state with a commit
/// index below the applied index the data file committed. `WALRangeStorage.initialState`
/// raises it to that point so the replica restarts.
@Suite struct WALRangeStorageCommitTests {
    let range = RangeID(7)

    /// A WAL holding entries 1...6 of term 2 whose last hard state says commit 2.
    func walWithLaggingCommit(_ dir: TempDir) throws -> WriteAheadLog {
        let (wal, _) = try WriteAheadLog.open(directory: dir.path)
        try wal.append([.hardState(range, HardState(term: 2, vote: 1, commit: 0)),
                        .entries(range, makeEntries(term: 2, from: 1, count: 6)),
                        .hardState(range, HardState(term: 2, vote: 1, commit: 2))])
        return wal
    }

    @Test func commitBelowTheSnapshotPointIsRaisedToIt() throws {
        let dir = TempDir()
        let wal = try walWithLaggingCommit(dir)
        defer { wal.close() }
        let voters = ConfState(voters: [1, 2, 3])
        let storage = WALRangeStorage(rangeID: range, wal: wal, snapshot: SnapshotMetadata(confState: voters, index: 5, term: 2))
        let (hs, cs) = try storage.initialState()
        #expect(hs == HardState(term: 2, vote: 1, commit: 5))
        #expect(cs == voters)
        // The replica restarts with applied 5 (before the fix: "hard state commit 2 is out of range").
        var config = RaftConfig(id: 1, electionTicks: 10, heartbeatTicks: 1, applied: 5)
        config.checkQuorum = true
        let node = try RawNode(config: config, storage: storage)
        #expect(node.status.hardState.commit == 5)
        #expect(node.status.applied == 5)
    }

    @Test func commitAtOrAboveTheSnapshotPointIsKept() throws {
        let dir = TempDir()
        let wal = try walWithLaggingCommit(dir)
        defer { wal.close() }
        for point in [UInt64(0), 1, 2] {
            let storage = WALRangeStorage(rangeID: range, wal: wal,
                                          snapshot: SnapshotMetadata(confState: ConfState(voters: [1]), index: point, term: point == 0 ? 0 : 2))
            #expect(try storage.initialState().0 == HardState(term: 2, vote: 1, commit: 2), "snapshot point \(point)")
        }
    }

    @Test func anEmptyHardStateStaysEmpty() throws {
        let dir = TempDir()
        let (wal, _) = try WriteAheadLog.open(directory: dir.path)
        defer { wal.close() }
        let storage = WALRangeStorage(rangeID: range, wal: wal, snapshot: SnapshotMetadata(confState: ConfState(voters: [1]), index: 3, term: 1))
        #expect(try storage.initialState().0.isEmpty)
    }
}
