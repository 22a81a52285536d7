import Base

/// Where a snapshot sits in the log and the membership at that point.
public struct SnapshotMetadata: Sendable, Hashable {
    public var confState: ConfState
    public var index: UInt64
    public var term: UInt64
    public init(confState: ConfState = ConfState(), index: UInt64 = 0, term: UInt64 = 0) {
        self.confState = confState
        self.index = index
        self.term = term
    }
}

/// A point-in-time image of the application state. Raft treats `data` as opaque; in the
/// node runtime it is small (a handle) and the range segment streams separately.
public struct Snapshot: Sendable, Hashable {
    public var metadata: SnapshotMetadata
    public var data: [UInt8]
    public init(metadata: SnapshotMetadata = SnapshotMetadata(), data: [UInt8] = []) {
        self.metadata = metadata
        self.data = data
    }
    public var isEmpty: Bool { metadata.index == 0 }
}
