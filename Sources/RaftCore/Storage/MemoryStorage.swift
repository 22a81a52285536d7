public import Base
import Synchronization

/// An in-memory `RaftStorage`: the stable log, hard state and latest snapshot of one
/// replica, kept in memory (tests, the simulator, benchmarks). It owns its entries and
/// never calls back into the core; the application writes it while handling a `Ready`
/// (`setHardState`, `append`, `applySnapshot`) and compacts it (`createSnapshot`,
/// `compact(upTo:)`). Thread-safe through one mutex, so it is `Sendable`.
public final class MemoryStorage: RaftStorage, Sendable {
    /// Everything behind the lock.
    struct State: Sendable {
        var hardState = HardState()
        /// Membership as last persisted (from a snapshot or set by the application).
        var confState = ConfState()
        var snapshot = Snapshot()
        /// Index and term of the entry just before `entries[0]` (compacted away).
        var offsetIndex: UInt64 = 0
        var offsetTerm: UInt64 = 0
        /// Invariant: `entries[i].index == offsetIndex + 1 + i`.
        var entries: [Entry] = []

        var lastIndex: UInt64 { offsetIndex + UInt64(entries.count) }

        func term(_ index: UInt64) throws(StorageError) -> UInt64 {
            if index < offsetIndex { throw .compacted }
            if index == offsetIndex { return offsetTerm }
            if index > lastIndex { throw .unavailable }
            return entries[Int(index - offsetIndex - 1)].term
        }
    }

    private let state: Mutex<State>

    /// An empty storage whose initial membership is `confState` (a fresh group).
    public init(confState: ConfState = ConfState()) {
        var s = State()
        s.confState = confState
        s.snapshot.metadata.confState = confState
        state = Mutex(s)
    }

    /// An empty storage for a fresh group with the given voters and learners.
    public convenience init(voters: [ReplicaID], learners: [ReplicaID] = []) {
        self.init(confState: ConfState(voters: voters, learners: learners))
    }

    // MARK: RaftStorage

    public func initialState() throws(StorageError) -> (HardState, ConfState) {
        state.withLock { ($0.hardState, $0.confState) }
    }

    public func entries(_ lo: UInt64, _ hi: UInt64, maxBytes: UInt64) throws(StorageError) -> [Entry] {
        try state.withLock { (s) throws(StorageError) -> [Entry] in
            if lo <= s.offsetIndex { throw .compacted }
            if hi > s.lastIndex + 1 || lo > hi { throw .unavailable }
            if lo == hi { return [] }
            let start = Int(lo - s.offsetIndex - 1)
            let end = Int(hi - s.offsetIndex - 1)
            return Array(limitSize(s.entries[start..<end], maxBytes: maxBytes))
        }
    }

    public func term(_ index: UInt64) throws(StorageError) -> UInt64 {
        try state.withLock { (s) throws(StorageError) -> UInt64 in try s.term(index) }
    }

    public func firstIndex() -> UInt64 { state.withLock { $0.offsetIndex + 1 } }

    public func lastIndex() -> UInt64 { state.withLock { $0.lastIndex } }

    public func snapshot() throws(StorageError) -> Snapshot { state.withLock { $0.snapshot } }

    // MARK: Writes by the application

    public func setHardState(_ hardState: HardState) {
        state.withLock { $0.hardState = hardState }
    }

    /// Records the membership the application has applied (returned by `initialState`).
    public func setConfState(_ confState: ConfState) {
        state.withLock { $0.confState = confState }
    }

    /// Appends entries, first truncating any suffix of the stored log they conflict with
    /// (entries at or after `entries[0].index`). Entries at or below the compaction point
    /// are skipped. The entries must be contiguous and must not leave a gap.
    public func append(_ entries: [Entry]) {
        append(entries[...])
    }

    public func append(_ entries: ArraySlice<Entry>) {
        guard let firstNew = entries.first?.index else { return }
        state.withLock { s in
            let first = s.offsetIndex + 1
            let lastNew = firstNew + UInt64(entries.count) - 1
            if lastNew < first { return }
            var new = entries
            if first > firstNew { new = entries.dropFirst(Int(first - firstNew)) }
            let position = Int(new.first!.index - s.offsetIndex - 1)
            precondition(position <= s.entries.count,
                         "missing log entry: last \(s.lastIndex), appending at \(new.first!.index)")
            if position < s.entries.count { s.entries.removeSubrange(position...) }
            s.entries.append(contentsOf: new)
        }
    }

    /// Replaces the whole log with `snapshot` (a follower catching up from a snapshot).
    public func applySnapshot(_ snapshot: Snapshot) throws(StorageError) {
        try state.withLock { (s) throws(StorageError) in
            if snapshot.metadata.index <= s.snapshot.metadata.index { throw .snapshotOutOfDate }
            s.snapshot = snapshot
            s.confState = snapshot.metadata.confState
            s.offsetIndex = snapshot.metadata.index
            s.offsetTerm = snapshot.metadata.term
            s.entries.removeAll()
        }
    }

    /// Records a snapshot of the application state at `index` (which must be applied and
    /// still in the log). It is what a lagging follower receives; it does not compact.
    @discardableResult
    public func createSnapshot(index: UInt64, confState: ConfState? = nil, data: [UInt8] = []) throws(StorageError) -> Snapshot {
        try state.withLock { (s) throws(StorageError) -> Snapshot in
            if index <= s.snapshot.metadata.index { throw .snapshotOutOfDate }
            if index > s.lastIndex { throw .unavailable }
            let term = try s.term(index)
            s.snapshot = Snapshot(
                metadata: SnapshotMetadata(confState: confState ?? s.confState, index: index, term: term),
                data: data)
            return s.snapshot
        }
    }

    /// Discards entries up to and including `index`; `index`'s term stays available.
    /// Compact only up to a snapshot's index, or lagging followers cannot catch up.
    public func compact(upTo index: UInt64) throws(StorageError) {
        try state.withLock { (s) throws(StorageError) in
            if index <= s.offsetIndex { throw .compacted }
            if index > s.lastIndex { throw .unavailable }
            let term = try s.term(index)
            s.entries.removeFirst(Int(index - s.offsetIndex))
            s.offsetIndex = index
            s.offsetTerm = term
        }
    }

    /// The persisted hard state (tests, status pages).
    public var hardState: HardState { state.withLock { $0.hardState } }
}

/// The longest prefix of `entries` whose payload fits in `maxBytes` (at least one entry).
func limitSize(_ entries: ArraySlice<Entry>, maxBytes: UInt64) -> ArraySlice<Entry> {
    guard entries.count > 1, maxBytes != .max else { return entries }
    var size: UInt64 = 0
    var end = entries.startIndex
    for i in entries.indices {
        size += UInt64(entries[i].payloadSize)
        if i > entries.startIndex && size > maxBytes { break }
        end = i + 1
    }
    return entries[entries.startIndex..<end]
}
