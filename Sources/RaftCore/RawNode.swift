public import Base

/// CONTRACT SKETCH — replaced by the real implementation (issue #2, RaftCore helper).
/// The public face of one replica's Raft core. Pure and deterministic: no clock, no
/// threads, no I/O, no global randomness.
public struct RawNode<Storage: RaftStorage> {
    public init(config: RaftConfig, storage: Storage) throws(RaftError) { fatalError("not yet implemented") }
    public mutating func tick() { fatalError() }
    public mutating func campaign() throws(RaftError) { fatalError() }
    public mutating func propose(_ data: [UInt8]) throws(RaftError) { fatalError() }
    public mutating func proposeConfChange(_ change: ConfChange) throws(RaftError) { fatalError() }
    public mutating func applyConfChange(_ change: ConfChange) -> ConfState { fatalError() }
    public mutating func step(_ message: Message) throws(RaftError) { fatalError() }
    public mutating func readIndex(context: [UInt8]) { fatalError() }
    public mutating func transferLeader(to target: ReplicaID) { fatalError() }
    public mutating func reportUnreachable(_ id: ReplicaID) { fatalError() }
    public mutating func reportSnapshot(_ id: ReplicaID, succeeded: Bool) { fatalError() }
    public func hasReady() -> Bool { fatalError() }
    public mutating func ready() -> Ready { fatalError() }
    public mutating func advance(_ ready: Ready) { fatalError() }
    public var status: RaftStatus { fatalError() }
}

/// A read-only view of a replica's state, for tests, metrics and quiescing decisions.
public struct RaftStatus: Sendable {
    public var id: ReplicaID
    public var hardState: HardState
    public var softState: SoftState
    public var applied: UInt64
    public var lastIndex: UInt64
    /// For a leader: each peer's match index (`0` if unknown); empty otherwise.
    public var progress: [ReplicaID: UInt64]
    public var leadTransferee: ReplicaID
    public var confState: ConfState
    public init(id: ReplicaID, hardState: HardState, softState: SoftState, applied: UInt64, lastIndex: UInt64,
                progress: [ReplicaID: UInt64], leadTransferee: ReplicaID, confState: ConfState) {
        self.id = id
        self.hardState = hardState
        self.softState = softState
        self.applied = applied
        self.lastIndex = lastIndex
        self.progress = progress
        self.leadTransferee = leadTransferee
        self.confState = confState
    }
}
