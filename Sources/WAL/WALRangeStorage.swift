public import Base
public import RaftCore
import Synchronization

/// `RaftStorage` for one range replica, backed by the shared WAL. The log comes from the
/// WAL; the membership and snapshot metadata come from the applied state machine (the range
/// segment in the data file), which the node keeps current through `setSnapshotMetadata`.
public final class WALRangeStorage: RaftStorage, Sendable {
    public let rangeID: RangeID
    private let wal: WriteAheadLog
    private let snapshotState: Mutex<(metadata: SnapshotMetadata, data: [UInt8])>

    public init(rangeID: RangeID, wal: WriteAheadLog, snapshot: SnapshotMetadata, snapshotData: [UInt8] = []) {
        self.rangeID = rangeID
        self.wal = wal
        self.snapshotState = Mutex((snapshot, snapshotData))
    }

    /// Records the latest snapshot point (after applying or installing one).
    public func setSnapshotMetadata(_ metadata: SnapshotMetadata, data: [UInt8] = []) {
        snapshotState.withLock { $0 = (metadata, data) }
    }

    /// The last hard state in the log, with its commit index raised to the snapshot point
    /// (the applied index the data file holds) if it lags it: a hard state that only moved
    /// the commit index is written without a sync of its own (Node's `handleReadies`), so a
    /// crash may lose it after the entries it committed were applied and committed to the
    /// data file. Those entries were committed, so the raised index is a true commit index.
    public func initialState() throws(StorageError) -> (HardState, ConfState) {
        let (metadata, hs) = (snapshotState.withLock { $0.metadata }, wal.hardState(of: rangeID) ?? HardState())
        var state = hs
        if !state.isEmpty && state.commit < metadata.index { state.commit = metadata.index }
        return (state, metadata.confState)
    }

    public func entries(_ lo: UInt64, _ hi: UInt64, maxBytes: UInt64) throws(StorageError) -> [Entry] {
        try wal.entries(of: rangeID, from: lo, to: hi, maxBytes: maxBytes)
    }

    public func term(_ index: UInt64) throws(StorageError) -> UInt64 {
        if let term = wal.term(of: rangeID, at: index) { return term }
        let snap = snapshotState.withLock { $0.metadata }
        if index == snap.index { return snap.term }
        guard let (first, _) = wal.bounds(of: rangeID) else {
            if index < snap.index { throw .compacted }
            throw .unavailable
        }
        throw index < first ? .compacted : .unavailable
    }

    public func firstIndex() -> UInt64 {
        let snapIndex = snapshotState.withLock { $0.metadata.index }
        return max(wal.bounds(of: rangeID)?.first ?? (snapIndex + 1), 1)
    }

    public func lastIndex() -> UInt64 {
        let snapIndex = snapshotState.withLock { $0.metadata.index }
        guard let (_, last) = wal.bounds(of: rangeID) else { return snapIndex }
        return max(last, snapIndex)
    }

    public func snapshot() throws(StorageError) -> Snapshot {
        let (metadata, data) = snapshotState.withLock { ($0.metadata, $0.data) }
        return Snapshot(metadata: metadata, data: data)
    }
}
