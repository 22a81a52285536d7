public import Base

/// One membership edit.
public enum ConfChangeType: UInt8, Sendable, Hashable {
    case addNode = 0
    case removeNode = 1
    case addLearnerNode = 2
}

public struct ConfChangeSingle: Sendable, Hashable {
    public var type: ConfChangeType
    public var replicaID: ReplicaID
    public init(_ type: ConfChangeType, _ replicaID: ReplicaID) {
        self.type = type
        self.replicaID = replicaID
    }
}

/// How a change is carried out (etcd's ConfChangeTransition).
public enum ConfChangeTransition: UInt8, Sendable, Hashable {
    /// One voter change applies directly; anything more goes through an automatically
    /// left joint configuration.
    case auto = 0
    /// Always use a joint configuration and leave it automatically once committed.
    case jointImplicit = 1
    /// Always use a joint configuration; the application leaves it by proposing an
    /// empty `ConfChange` (`isLeaveJoint`).
    case jointExplicit = 2
}

/// A membership change proposal (etcd's ConfChangeV2). An empty `changes` list means
/// "leave the current joint configuration".
public struct ConfChange: Sendable, Hashable {
    public var transition: ConfChangeTransition
    public var changes: [ConfChangeSingle]
    public var context: [UInt8]

    public init(transition: ConfChangeTransition = .auto, changes: [ConfChangeSingle], context: [UInt8] = []) {
        self.transition = transition
        self.changes = changes
        self.context = context
    }

    public var isLeaveJoint: Bool { changes.isEmpty }
}
