import Base
import RaftCore
import Simulation
import Testing

@Suite("SimStorage disk model")
struct SimStorageTests {
    func boot() -> SimStorage {
        SimStorage(bootstrap: Snapshot(metadata: SnapshotMetadata(confState: ConfState(voters: [1]), index: 1, term: 1)))
    }

    func ents(_ range: ClosedRange<UInt64>, term: UInt64, size: Int = 10) -> [Entry] {
        range.map { Entry(term: term, index: $0, data: Array(repeating: UInt8(term), count: size)) }
    }

    @Test func appendReplacesConflictingSuffix() throws {
        let s = boot()
        s.append(ents(2...6, term: 1))
        s.append(ents(4...5, term: 2))
        #expect(s.lastIndex() == 5)
        #expect(try s.term(3) == 1)
        #expect(try s.term(4) == 2)
        #expect(throws: StorageError.unavailable) { try s.term(6) }
        #expect(try s.term(1) == 1, "term of firstIndex - 1 is the snapshot's")
        #expect(throws: StorageError.compacted) { try s.term(0) }
    }

    @Test func entriesHonourMaxBytesButReturnAtLeastOne() throws {
        let s = boot()
        s.append(ents(2...9, term: 1, size: 10))
        #expect(try s.entries(2, 10, maxBytes: 25).map(\.index) == [2, 3])
        #expect(try s.entries(2, 10, maxBytes: 1).map(\.index) == [2])
        #expect(try s.entries(2, 10, maxBytes: .max).count == 8)
        #expect(throws: StorageError.compacted) { try s.entries(1, 3, maxBytes: .max) }
        #expect(throws: StorageError.unavailable) { try s.entries(2, 11, maxBytes: .max) }
    }

    @Test func snapshotAndCompaction() throws {
        let s = boot()
        s.append(ents(2...10, term: 2))
        s.createSnapshot(index: 8, confState: ConfState(voters: [1]), data: [])
        s.compact(upTo: 6)
        #expect(s.firstIndex() == 7)
        #expect(try s.term(6) == 2)
        #expect(throws: StorageError.compacted) { try s.entries(6, 8, maxBytes: .max) }
        s.compact(upTo: 20)
        #expect(s.firstIndex() == 9, "compaction stops at the snapshot")
        #expect(try s.snapshot().metadata.index == 8)
    }

    @Test func appliedSnapshotReplacesLogAndImpliesCommit() throws {
        let s = boot()
        s.append(ents(2...4, term: 1))
        s.applySnapshot(Snapshot(metadata: SnapshotMetadata(confState: ConfState(voters: [1, 2]), index: 20, term: 3)))
        #expect(s.firstIndex() == 21 && s.lastIndex() == 20)
        #expect(s.hardState.commit == 20)
        #expect(try s.initialState().1.voters == [1, 2])
        s.loseUnsyncedWrites()
        #expect(s.hardState.commit == 20, "the snapshot record is durable")
    }

    @Test func crashLosesOnlyUnsyncedHardState() {
        let s = boot()
        s.setHardState(HardState(term: 2, vote: 1, commit: 1), sync: true)
        s.setHardState(HardState(term: 2, vote: 1, commit: 5), sync: false)
        s.loseUnsyncedWrites()
        #expect(s.hardState == HardState(term: 2, vote: 1, commit: 1))
        s.setHardState(HardState(term: 2, vote: 1, commit: 5), sync: false)
        s.sync()
        s.loseUnsyncedWrites()
        #expect(s.hardState.commit == 5)
    }
}
