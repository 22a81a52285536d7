public import Base

/// What one node knows when its planner runs: the ranges it holds replicas of (voters and
/// believed leader), who leads the system range, and which nodes it hears from. Built by the
/// node's driver from its published replica views; the planner only reads it. Plain value.
public struct PlacementView: Sendable, Equatable {
    /// One range as this node sees it.
    public struct Range: Sendable, Equatable {
        public var rangeID: RangeID
        /// Nodes holding a voting replica (a transfer target must be one).
        public var voters: [NodeID]
        /// The believed leader; nil during an election or when unknown.
        public var leader: NodeID?
        /// When the local node leads: the node whose leader handed it this term's leadership
        /// (a transfer); nil when it won an ordinary election or is not the leader. A
        /// transfer is a deliberate move even when the planner saw no leader in between.
        public var transferredFrom: NodeID?

        public init(rangeID: RangeID, voters: [NodeID], leader: NodeID?, transferredFrom: NodeID? = nil) {
            self.rangeID = rangeID
            self.voters = voters
            self.leader = leader
            self.transferredFrom = transferredFrom
        }
    }

    /// The node running the planner: it only ever moves ranges it leads.
    public var localNode: NodeID
    public var ranges: [Range]
    /// The system range's leader, nil when unknown.
    public var systemLeader: NodeID?
    /// Nodes believed alive (heard from within an election timeout), the local node included.
    public var liveNodes: Set<NodeID>
    /// The range never moved by placement (counted by `spread`). Range 1 in a cluster.
    public var systemRange: RangeID = .system

    public init(localNode: NodeID, ranges: [Range], systemLeader: NodeID?, liveNodes: Set<NodeID>) {
        self.localNode = localNode
        self.ranges = ranges
        self.systemLeader = systemLeader
        self.liveNodes = liveNodes
    }
}

/// One decision: the local node should hand `rangeID`'s leadership to `to`.
public struct PlacementAction: Sendable, Equatable, CustomStringConvertible {
    public var rangeID: RangeID
    public var from: NodeID
    public var to: NodeID

    public init(rangeID: RangeID, from: NodeID, to: NodeID) {
        self.rangeID = rangeID
        self.from = from
        self.to = to
    }

    public var description: String { "range \(rangeID.rawValue): \(from.rawValue) → \(to.rawValue)" }
}

/// Where the planner's time comes from: a monotonic clock in nanoseconds. The node's driver
/// reads the system's monotonic clock; tests and simulations step a manual one.
public protocol PlacementClock {
    var nowNanos: UInt64 { get }
}
