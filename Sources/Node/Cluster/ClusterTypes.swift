public import Base
public import MVCC

// Plain values the cluster serving path passes between the node runtime, the peer call
// channel and the router (the router's `ClusterAccess` speaks in them).

/// A user range as the router's cache knows it: its descriptor and the node believed to
/// lead it (`.none` when unknown).
public struct RangeRoute: Sendable, Equatable {
    public var descriptor: RangeDescriptor
    public var leaderHint: NodeID

    public init(descriptor: RangeDescriptor, leaderHint: NodeID) {
        self.descriptor = descriptor
        self.leaderHint = leaderHint
    }
}

/// One item of a per-range change feed (see `ClusterAccess.feed`).
public enum RangeFeedItem: Sendable, Equatable {
    /// Events of the range in revision order (whole revisions, then sub revision), every
    /// one with a revision `<= resolved`; and the promise that every event of the range with
    /// a revision `<= resolved` has now been delivered (the range is closed at `resolved`
    /// and the serving replica has applied everything up to it). `events` may be empty
    /// (a progress step).
    case events([WatchEvent], resolved: Int64)
    /// The revision the feed needed is compacted; the feed ends after this item.
    case compacted(compactRevision: Int64)
}

/// A live lease as the system range records it.
public struct LeaseRecord: Sendable, Equatable {
    public var id: Int64
    /// The TTL granted, seconds.
    public var grantedTTL: Int64
    /// Seconds left (rounded up); <= 0 when expired and not yet revoked.
    public var remainingTTL: Int64
    /// The system range revision of the write that granted this lease: it identifies the
    /// grant (a re-grant of the ID has a larger one); 0 when unknown. See `RevokedLeases`.
    public var grantRevision: Int64

    public init(id: Int64, grantedTTL: Int64, remainingTTL: Int64, grantRevision: Int64 = 0) {
        self.id = id
        self.grantedTTL = grantedTTL
        self.remainingTTL = remainingTTL
        self.grantRevision = grantRevision
    }
}

/// A node of the cluster as `MemberList` and `Status` show it.
public struct NodeRecord: Sendable, Equatable {
    public var nodeID: NodeID
    public var name: String
    public var clientURLs: [String]
    public var peerURLs: [String]

    public init(nodeID: NodeID, name: String, clientURLs: [String], peerURLs: [String]) {
        self.nodeID = nodeID
        self.name = name
        self.clientURLs = clientURLs
        self.peerURLs = peerURLs
    }
}
