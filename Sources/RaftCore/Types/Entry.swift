import Base

/// What an entry's `data` holds.
public enum EntryType: UInt8, Sendable, Hashable {
    /// Application data (or empty: the no-op a new leader appends).
    case normal = 0
    /// An encoded `ConfChange`.
    case confChange = 1
}

/// One Raft log entry. Identified by `(term, index)`; by the Log Matching property two
/// logs holding an entry with the same index and term are identical up to it.
public struct Entry: Sendable, Hashable {
    public var term: UInt64
    public var index: UInt64
    public var type: EntryType
    public var data: [UInt8]

    public init(term: UInt64, index: UInt64, type: EntryType = .normal, data: [UInt8] = []) {
        self.term = term
        self.index = index
        self.type = type
        self.data = data
    }

    /// Size counted against `maxSizePerMsg` and the uncommitted-size limit.
    public var payloadSize: Int { data.count }
}
