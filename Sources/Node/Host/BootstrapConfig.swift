public import Base

/// The cluster's initial ranges, for this issue the only source of ranges: `rangeCount`
/// user ranges pre-splitting the keyspace evenly by first byte (by the first two bytes
/// beyond 256 ranges), each replicated on every node of `nodes` (replica ID = node ID),
/// with the intended leaders spread round-robin (or all on the first node); and the system range (range 1) on the
/// first min(3, nodes) nodes. Pure; owns nothing.
public struct BootstrapConfig: Sendable, Equatable {
    public var nodes: [NodeID]
    public var rangeCount: Int
    /// User ranges get IDs from here (range 1 is reserved for the system range).
    public var firstRangeID: UInt64 = 2
    /// Whether every user range's intended leader is the system range's (the first node), as
    /// placement policy `with-system` wants them, instead of round-robin.
    public var leadersWithSystem = false

    public init(nodes: [NodeID], rangeCount: Int, leadersWithSystem: Bool = false) {
        precondition(rangeCount >= 1 && rangeCount <= 65_536, "1...65536 ranges")
        self.nodes = nodes
        self.rangeCount = rangeCount
        self.leadersWithSystem = leadersWithSystem
    }

    /// Nodes holding a replica of the system range: the first `systemReplicaCount` nodes.
    public static let systemReplicaCount = 3

    /// The system range (range 1, `RangeID.system`): its own Raft group on the first
    /// min(3, nodes) nodes, outside the user keyspace. Its key bounds (`[]`, none) span the
    /// reserved `system.*` buckets of each node's data file, not user keys: routers never
    /// route to it (see docs/architecture.md, "System range").
    public var systemDescriptor: RangeDescriptor {
        RangeDescriptor(
            rangeID: .system, startKey: [], endKey: nil,
            replicas: nodes.prefix(Self.systemReplicaCount).map {
                RangeDescriptor.Replica(nodeID: $0, replicaID: $0.rawValue)
            })
    }

    /// The user range descriptors, in key order; together they cover the whole keyspace.
    /// (The system range is `systemDescriptor`.)
    public var descriptors: [RangeDescriptor] {
        (0..<rangeCount).map { i in
            let start: [UInt8] = i == 0 ? [] : boundary(i)
            let end: [UInt8]? = i == rangeCount - 1 ? nil : boundary(i + 1)
            return RangeDescriptor(
                rangeID: RangeID(firstRangeID + UInt64(i)), startKey: start, endKey: end,
                replicas: nodes.map { RangeDescriptor.Replica(nodeID: $0, replicaID: $0.rawValue) })
        }
    }

    /// The start key of the i-th range (i ≥ 1).
    func boundary(_ i: Int) -> [UInt8] {
        if rangeCount <= 256 { return [UInt8(i * 256 / rangeCount)] }
        let b = i * 65_536 / rangeCount
        return [UInt8(b >> 8), UInt8(b & 0xFF)]
    }

    /// The node that should campaign first for `range` (spreads leaders over the nodes, or
    /// the first node for every range with `leadersWithSystem`). The system range's intended
    /// leader is the first node.
    public func intendedLeader(of range: RangeID) -> NodeID {
        guard range.rawValue >= firstRangeID, !leadersWithSystem else { return nodes[0] }
        return nodes[Int((range.rawValue - firstRangeID) % UInt64(nodes.count))]
    }
}
