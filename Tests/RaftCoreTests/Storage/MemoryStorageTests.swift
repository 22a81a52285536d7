import Base
import Testing
@testable import RaftCore

@Suite struct MemoryStorageTests {
    @Test func appendTruncatesConflictingSuffix() throws {
        let s = MemoryStorage()
        s.append(entries(terms: [1, 1, 1]))
        s.append(entries(terms: [2, 2], from: 2))
        #expect(try s.entries(1, 4, maxBytes: .max).map(\.term) == [1, 2, 2])
        s.append(entries(terms: [2], from: 4))
        #expect(s.lastIndex() == 4)
    }

    @Test func compactKeepsTermOfCompactionPoint() throws {
        let s = MemoryStorage()
        s.append(entries(terms: [1, 2, 3, 4]))
        try s.compact(upTo: 2)
        #expect(s.firstIndex() == 3 && s.lastIndex() == 4)
        #expect(try s.term(2) == 2)
        #expect(throws: StorageError.compacted) { try s.term(1) }
        #expect(throws: StorageError.compacted) { try s.entries(2, 4, maxBytes: .max) }
        #expect(throws: StorageError.compacted) { try s.compact(upTo: 2) }
        #expect(throws: StorageError.unavailable) { try s.compact(upTo: 5) }
        // appending entries that are partly compacted skips the compacted part
        s.append(entries(terms: [1, 2, 3, 5], from: 1))
        #expect(try s.entries(3, 5, maxBytes: .max).map(\.term) == [3, 5])
    }

    @Test func createAndApplySnapshot() throws {
        let s = MemoryStorage(voters: [1, 2, 3])
        s.append(entries(terms: [1, 1, 2]))
        let snap = try s.createSnapshot(index: 2, data: [9])
        #expect(snap.metadata.index == 2 && snap.metadata.term == 1 && snap.metadata.confState.voters == [1, 2, 3])
        #expect(throws: StorageError.snapshotOutOfDate) { try s.createSnapshot(index: 2) }
        #expect(throws: StorageError.unavailable) { try s.createSnapshot(index: 9) }
        #expect(s.firstIndex() == 1, "creating a snapshot does not compact")

        let f = MemoryStorage()
        f.append(entries(terms: [1]))
        try f.applySnapshot(Snapshot(metadata: SnapshotMetadata(confState: ConfState(voters: [1, 2]), index: 5, term: 3)))
        #expect(f.firstIndex() == 6 && f.lastIndex() == 5)
        #expect(try f.term(5) == 3)
        #expect(try f.initialState().1.voters == [1, 2])
        #expect(throws: StorageError.snapshotOutOfDate) {
            try f.applySnapshot(Snapshot(metadata: SnapshotMetadata(index: 4, term: 3)))
        }
    }

    @Test func entriesLimitedBySize() throws {
        let s = MemoryStorage()
        s.append((1...4).map { Entry(term: 1, index: UInt64($0), data: [1, 2, 3, 4]) })
        #expect(try s.entries(1, 5, maxBytes: 8).count == 2)
        #expect(try s.entries(1, 5, maxBytes: 0).count == 1)
        #expect(throws: StorageError.unavailable) { try s.entries(1, 6, maxBytes: .max) }
    }

    @Test func hardStateRoundTrip() throws {
        let s = MemoryStorage()
        s.setHardState(HardState(term: 3, vote: 2, commit: 1))
        #expect(try s.initialState().0 == HardState(term: 3, vote: 2, commit: 1))
    }
}
