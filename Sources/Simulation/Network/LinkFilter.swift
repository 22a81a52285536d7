public import Base

/// One direction of communication between two replicas.
public struct Link: Hashable, Sendable, CustomStringConvertible {
    public var from: ReplicaID
    public var to: ReplicaID
    public init(from: ReplicaID, to: ReplicaID) {
        self.from = from
        self.to = to
    }
    public var description: String { "\(from)->\(to)" }
}

/// The current partition of the simulated network: the set of directed links that drop
/// every message. Symmetric partitions block both directions, one-way partitions one.
/// Membership tests only (never iterated in hash order), so runs stay deterministic.
public struct LinkFilter: Sendable, Hashable {
    private var blocked: Set<Link> = []

    public init() {}

    /// Whether a message from `from` to `to` is dropped.
    public func isBlocked(from: ReplicaID, to: ReplicaID) -> Bool {
        blocked.contains(Link(from: from, to: to))
    }

    public var isHealed: Bool { blocked.isEmpty }
    public var blockedLinkCount: Int { blocked.count }

    /// Blocks messages from `from` to `to` only.
    public mutating func blockOneWay(from: ReplicaID, to: ReplicaID) {
        blocked.insert(Link(from: from, to: to))
    }

    /// Blocks both directions between `a` and `b`.
    public mutating func blockBothWays(_ a: ReplicaID, _ b: ReplicaID) {
        blockOneWay(from: a, to: b)
        blockOneWay(from: b, to: a)
    }

    /// Cuts every link between the two groups, in both directions.
    public mutating func split(_ groupA: [ReplicaID], _ groupB: [ReplicaID]) {
        for a in groupA {
            for b in groupB where a != b { blockBothWays(a, b) }
        }
    }

    /// Cuts `replica` off from every replica in `others`, in both directions.
    public mutating func isolate(_ replica: ReplicaID, from others: [ReplicaID]) {
        split([replica], others)
    }

    /// Removes every blocked link.
    public mutating func heal() { blocked.removeAll() }
}
