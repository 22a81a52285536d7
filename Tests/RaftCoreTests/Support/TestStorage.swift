import Base
@testable import RaftCore

/// A `RaftStorage` for tests: a `MemoryStorage` whose `snapshot()` is produced on demand
/// from the application's applied state (index, membership, applied data), the way a
/// real application snapshots when a follower needs one. Everything else forwards.
final class TestStorage: RaftStorage {
    let memory: MemoryStorage
    /// Set by the test application after it applies entries.
    var appliedIndex: UInt64 = 0
    var appliedConfState = ConfState()
    var appliedData: [UInt8] = []
    /// When false, `snapshot()` returns whatever the memory storage holds.
    var snapshotOnDemand = true

    init(_ memory: MemoryStorage) { self.memory = memory }

    func initialState() throws(StorageError) -> (HardState, ConfState) { try memory.initialState() }
    func entries(_ lo: UInt64, _ hi: UInt64, maxBytes: UInt64) throws(StorageError) -> [Entry] {
        try memory.entries(lo, hi, maxBytes: maxBytes)
    }
    func term(_ index: UInt64) throws(StorageError) -> UInt64 { try memory.term(index) }
    func firstIndex() -> UInt64 { memory.firstIndex() }
    func lastIndex() -> UInt64 { memory.lastIndex() }

    func snapshot() throws(StorageError) -> Snapshot {
        let current = try memory.snapshot()
        if snapshotOnDemand && appliedIndex > current.metadata.index && appliedIndex <= memory.lastIndex() {
            return try memory.createSnapshot(index: appliedIndex, confState: appliedConfState, data: appliedData)
        }
        return current
    }
}
