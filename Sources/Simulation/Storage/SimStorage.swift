public import Base
public import RaftCore

/// One replica's simulated disk: the Raft log (after its snapshot), the latest snapshot,
/// the hard state and the membership the application last made durable. It is what
/// survives a crash: the replica's `RawNode` is volatile and rebuilt from this on
/// restart. Writes are durable as soon as they are made, except a hard state written
/// without a sync (`Ready.mustSync == false`), which a crash loses unless a later write
/// reached the disk (the disk is a log: a durable record implies every earlier one).
///
/// Layout (as etcd's MemoryStorage): `offsetIndex`/`offsetTerm` name the last compacted
/// entry (firstIndex - 1); `entries` holds `offsetIndex + 1 ... lastIndex`.
/// Used from one thread only (the simulator's), so it is not `Sendable`.
public final class SimStorage: RaftStorage {
    public private(set) var hardState: HardState
    /// The hard state as of the last sync; what a crash falls back to.
    public private(set) var syncedHardState: HardState
    /// Membership at the application's durable applied index (returned by `initialState`).
    public var confState: ConfState
    public private(set) var latestSnapshot: Snapshot
    public private(set) var offsetIndex: UInt64
    public private(set) var offsetTerm: UInt64
    public private(set) var entries: [Entry] = []

    /// An empty disk (a replica that joins later and learns everything from a leader).
    public init() {
        hardState = HardState()
        syncedHardState = HardState()
        confState = ConfState()
        latestSnapshot = Snapshot()
        offsetIndex = 0
        offsetTerm = 0
    }

    /// A disk bootstrapped with `snapshot` (the initial membership of a new group).
    public init(bootstrap snapshot: Snapshot) {
        let hs = HardState(term: snapshot.metadata.term, vote: 0, commit: snapshot.metadata.index)
        hardState = hs
        syncedHardState = hs
        confState = snapshot.metadata.confState
        latestSnapshot = snapshot
        offsetIndex = snapshot.metadata.index
        offsetTerm = snapshot.metadata.term
    }

    // MARK: RaftStorage

    public func initialState() throws(StorageError) -> (HardState, ConfState) { (hardState, confState) }

    public func entries(_ lo: UInt64, _ hi: UInt64, maxBytes: UInt64) throws(StorageError) -> [Entry] {
        if lo <= offsetIndex { throw .compacted }
        if hi > lastIndex() + 1 { throw .unavailable }
        if lo >= hi { return [] }
        let start = Int(lo - offsetIndex - 1)
        let end = Int(hi - offsetIndex - 1)
        var size = UInt64(entries[start].payloadSize)
        var stop = start + 1
        while stop < end {
            size += UInt64(entries[stop].payloadSize)
            if size > maxBytes { break }
            stop += 1
        }
        return Array(entries[start..<stop])
    }

    public func term(_ index: UInt64) throws(StorageError) -> UInt64 {
        if index < offsetIndex { throw .compacted }
        if index == offsetIndex { return offsetTerm }
        if index > lastIndex() { throw .unavailable }
        return entries[Int(index - offsetIndex - 1)].term
    }

    public func firstIndex() -> UInt64 { offsetIndex + 1 }

    public func lastIndex() -> UInt64 { offsetIndex + UInt64(entries.count) }

    /// The latest snapshot, first taking a fresh one at the application's applied index
    /// when that is newer (snapshots are made on demand, as TiKV does: a snapshot made
    /// before a replica was added would not name it and the replica would refuse it).
    public func snapshot() throws(StorageError) -> Snapshot {
        if let machine = appliedMachine, machine.appliedIndex > latestSnapshot.metadata.index {
            createSnapshot(index: machine.appliedIndex, confState: machine.confState, data: machine.snapshotData)
        }
        return latestSnapshot
    }

    /// The application's in-memory state, for on-demand snapshots (set by the replica).
    public var appliedMachine: DigestStateMachine?

    // MARK: Writes (the application's side)

    /// The term at `index`, or nil when compacted or beyond the log.
    public func termIfPresent(_ index: UInt64) -> UInt64? {
        if index < offsetIndex || index > lastIndex() { return nil }
        return index == offsetIndex ? offsetTerm : entries[Int(index - offsetIndex - 1)].term
    }

    /// Appends `newEntries` (consecutive), replacing any conflicting suffix. Entries at or
    /// below the compaction point are ignored (they are covered by the snapshot).
    public func append(_ newEntries: [Entry]) {
        guard let first = newEntries.first else { return }
        precondition(first.index <= lastIndex() + 1, "append leaves a gap: \(first.index) after \(lastIndex())")
        var slice = newEntries[...]
        if first.index <= offsetIndex {
            let skip = Int(offsetIndex - first.index + 1)
            if skip >= slice.count { return }
            slice = slice.dropFirst(skip)
        }
        let keep = Int(slice.first!.index - offsetIndex - 1)
        if keep < entries.count { entries.removeSubrange(keep...) }
        entries.append(contentsOf: slice)
    }

    /// Records a new hard state; `sync` says whether it was flushed to disk.
    public func setHardState(_ state: HardState, sync: Bool) {
        hardState = state
        if sync { syncedHardState = state }
    }

    /// Flushes everything written so far.
    public func sync() { syncedHardState = hardState }

    /// Replaces the log with `snapshot` (received from a leader). A snapshot only ever
    /// holds committed state, so the durable commit index is at least its index.
    public func applySnapshot(_ snapshot: Snapshot) {
        let index = snapshot.metadata.index
        latestSnapshot = snapshot
        offsetIndex = index
        offsetTerm = snapshot.metadata.term
        entries.removeAll()
        confState = snapshot.metadata.confState
        if hardState.commit < index { hardState.commit = index }
        syncedHardState = hardState
    }

    /// Records a snapshot of the application state at `index` (which must be in the log).
    public func createSnapshot(index: UInt64, confState: ConfState, data: [UInt8]) {
        guard index > latestSnapshot.metadata.index, let term = termIfPresent(index) else { return }
        sync()  // the snapshot is committed state: make the commit index that covers it durable
        latestSnapshot = Snapshot(metadata: SnapshotMetadata(confState: confState, index: index, term: term), data: data)
    }

    /// Discards the entries up to `index` (at most the snapshot index).
    public func compact(upTo index: UInt64) {
        let target = min(index, latestSnapshot.metadata.index)
        guard target > offsetIndex, let term = termIfPresent(target) else { return }
        entries.removeFirst(Int(target - offsetIndex))
        offsetIndex = target
        offsetTerm = term
    }

    /// A disk that lies about fsync (used only to prove the checkers catch the damage):
    /// the vote it acknowledged is gone after a crash, so the replica may vote twice in
    /// one term. (Losing acknowledged entries would trip the core's own assertions
    /// before any checker could look.)
    public func forgetVote() {
        hardState.vote = 0
        syncedHardState.vote = 0
    }

    /// What a crash leaves: the hard state falls back to the last synced one when no
    /// later record made it durable.
    public func loseUnsyncedWrites() {
        hardState = syncedHardState
    }
}
