/// Identifiers shared by every layer. Plain `UInt64` wrappers so that a node ID is never
/// passed where a range ID is expected; `0` means "none" everywhere, as in etcd's raft.

/// A node (one `flotilla serve` process) in the cluster.
public struct NodeID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static let none = NodeID(0)
    public static func < (a: NodeID, b: NodeID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "n\(rawValue)" }
}

/// A range (a contiguous span of the keyspace with its own Raft group).
public struct RangeID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static let none = RangeID(0)
    /// The system range: placement, the revision oracle, leases.
    public static let system = RangeID(1)
    public static func < (a: RangeID, b: RangeID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "r\(rawValue)" }
}

/// A replica's identity inside one Raft group (etcd raft's node ID). `0` means none.
public typealias ReplicaID = UInt64
