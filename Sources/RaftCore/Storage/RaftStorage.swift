import Base

/// The read side of a replica's stable log, owned by the application: the core reads
/// persisted entries through it and never writes it. The application appends to it
/// (after persisting) when it handles a `Ready`.
public protocol RaftStorage: AnyObject {
    /// The persisted hard state and membership (at the snapshot or later conf changes).
    func initialState() throws(StorageError) -> (HardState, ConfState)
    /// Entries in `[lo, hi)`, stopping once `maxBytes` is exceeded (always at least one).
    func entries(_ lo: UInt64, _ hi: UInt64, maxBytes: UInt64) throws(StorageError) -> [Entry]
    /// The term of the entry at `index`; for `firstIndex - 1` the snapshot's term.
    func term(_ index: UInt64) throws(StorageError) -> UInt64
    /// The index of the first entry still available (snapshot index + 1).
    func firstIndex() -> UInt64
    /// The index of the last entry (the snapshot index if the log is empty).
    func lastIndex() -> UInt64
    /// The latest snapshot (for sending to a follower that fell behind compaction).
    func snapshot() throws(StorageError) -> Snapshot
}
