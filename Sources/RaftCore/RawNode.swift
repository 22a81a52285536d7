public import Base

/// The public face of one replica's Raft core: a thin wrapper over the internal `Raft`
/// state machine that packages its outputs into `Ready` values and tracks what the
/// application has already been handed. Pure and deterministic: no clock, no threads,
/// no I/O, no global randomness. Not thread-safe; one owner drives it.
///
/// The loop: feed `tick()`, `step(_:)` and proposals; when `hasReady()`, take `ready()`,
/// handle it as `Ready` documents, then `advance(_:)` with it before the next `ready()`.
public struct RawNode<Storage: RaftStorage> {
    var raft: Raft
    var prevSoftState: SoftState
    var prevHardState: HardState
    /// A `Ready` was handed out and not yet advanced (debug check of the call order).
    var awaitingAdvance = false

    /// Builds the replica from what `storage` holds (hard state, membership, log).
    /// Throws `.invalidConfig` for unusable settings, among them `.leaseBased` reads
    /// without `checkQuorum` (see `Raft.validate`).
    public init(config: RaftConfig, storage: Storage) throws(RaftError) {
        raft = try Raft(config: config, storage: storage)
        prevSoftState = raft.softState
        prevHardState = raft.hardState
    }

    /// Advances the logical clock by one tick (election and heartbeat timeouts).
    public mutating func tick() { raft.tick() }

    /// Starts an election now (with a pre-vote round if enabled).
    public mutating func campaign() throws(RaftError) {
        try raft.step(Message(type: .hup, from: raft.id))
    }

    /// Forgets a follower's leader when the application's failure detector has not heard
    /// from the leader for at least an election timeout (etcd raft's `ForgetLeader`, plus
    /// the elapsed timeout): the follower grants pre-votes at once and campaigns after the
    /// random part of its election timeout, instead of a full timeout more. No effect on a
    /// leader, a candidate or a follower without a leader.
    public mutating func forgetLeader() { raft.forgetLeader() }

    /// Proposes `data` for appending to the log. On a follower the proposal is forwarded
    /// to the leader (it is then dropped silently if the leader cannot take it).
    public mutating func propose(_ data: [UInt8]) throws(RaftError) {
        try raft.step(Message(type: .propose, from: raft.id, entries: [Entry(term: 0, index: 0, data: data)]))
    }

    /// Proposes several entries in one message (one append per follower for all).
    public mutating func propose(batch: [[UInt8]]) throws(RaftError) {
        guard !batch.isEmpty else { return }
        var entries: [Entry] = []
        entries.reserveCapacity(batch.count)
        for data in batch { entries.append(Entry(term: 0, index: 0, data: data)) }
        try raft.step(Message(type: .propose, from: raft.id, entries: entries))
    }

    /// Proposes a membership change. Throws `.confChangePending` while another change is
    /// unapplied or a joint configuration must be left first, `.invalidConfChange` if it
    /// could not apply to the current configuration.
    public mutating func proposeConfChange(_ change: ConfChange) throws(RaftError) {
        let entry = Entry(term: 0, index: 0, type: .confChange, data: change.encoded())
        try raft.step(Message(type: .propose, from: raft.id, entries: [entry]))
    }

    /// Applies a committed conf change (call it for each `.confChange` committed entry,
    /// in order) and returns the resulting membership, to persist with the applied state.
    public mutating func applyConfChange(_ change: ConfChange) -> ConfState {
        raft.applyConfChange(change)
    }

    /// Feeds a message from a peer. Local-only message types are rejected; responses
    /// from replicas that are not members, and proposals forwarded by peers that cannot
    /// be accepted, are dropped silently (their proposer learns nothing either way).
    public mutating func step(_ message: Message) throws(RaftError) {
        if message.to != 0 && message.to != raft.id {
            throw .invalidMessage("message for \(message.to) stepped into replica \(raft.id)")
        }
        switch message.type {
        case .hup, .beat, .unreachable, .snapshotStatus, .checkQuorum:
            throw .invalidMessage("local message \(message.type) stepped from the network")
        case .appendResponse, .requestVoteResponse, .requestPreVoteResponse, .heartbeatResponse,
             .readIndexResponse:
            guard raft.tracker.progress.contains(message.from) else { return }
        case .propose where message.from != raft.id:
            try? raft.step(message)
            return
        default:
            break
        }
        try raft.step(message)
    }

    /// Requests a linearizable read point; a `ReadState` with `context` appears in a later
    /// `Ready` once leadership is confirmed. Dropped silently when no leader is known
    /// (retry after a timeout).
    public mutating func readIndex(context: [UInt8]) {
        try? raft.step(Message(type: .readIndex, from: raft.id, context: context))
    }

    /// Asks the leader to hand leadership to `target` (forwarded if we are a follower).
    public mutating func transferLeader(to target: ReplicaID) {
        try? raft.step(Message(type: .transferLeader, from: target))
    }

    /// The transport failed to deliver to `id`: the leader probes it again.
    public mutating func reportUnreachable(_ id: ReplicaID) {
        try? raft.step(Message(type: .unreachable, from: id))
    }

    /// The outcome of sending a snapshot to `id` (leader only).
    public mutating func reportSnapshot(_ id: ReplicaID, succeeded: Bool) {
        try? raft.step(Message(type: .snapshotStatus, from: id, reject: !succeeded))
    }

    public func hasReady() -> Bool {
        if raft.pendingBroadcast && raft.state == .leader { return true }
        if raft.softState != prevSoftState { return true }
        let hs = raft.hardState
        if !hs.isEmpty && hs != prevHardState { return true }
        if raft.log.hasPendingSnapshot { return true }
        if !raft.msgs.isEmpty || !raft.log.unstable.entries.isEmpty || raft.log.hasNextCommittedEntries { return true }
        return !raft.readStates.isEmpty
    }

    /// Everything the application must do now. Hand it back through `advance(_:)`
    /// before calling `ready()` again.
    public mutating func ready() -> Ready {
        assert(!awaitingAdvance, "ready() called again before advance() of the previous Ready")
        awaitingAdvance = true
        raft.flushBroadcast()
        var rd = Ready(readStates: raft.readStates, entries: raft.log.unstable.entries,
                       snapshot: raft.log.unstable.snapshot,
                       committedEntries: raft.log.nextCommittedEntries(), messages: raft.msgs)
        let ss = raft.softState
        if ss != prevSoftState {
            rd.softState = ss
            prevSoftState = ss
        }
        let hs = raft.hardState
        if hs != prevHardState { rd.hardState = hs }
        rd.mustSync = hs.term != prevHardState.term || hs.vote != prevHardState.vote || !rd.entries.isEmpty
            || rd.snapshot != nil
        raft.msgs = []
        raft.readStates = []
        return rd
    }

    /// The application has handled `ready`: its entries and snapshot are stable, its
    /// committed entries applied.
    public mutating func advance(_ ready: Ready) {
        awaitingAdvance = false
        if let hs = ready.hardState { prevHardState = hs }
        raft.advance(ready)
    }

    /// The current term (cheap; `status` builds the whole view).
    public var term: UInt64 { raft.term }

    /// Whether this replica leads in `term` (cheap).
    public var isLeader: Bool { raft.state == .leader }

    /// The term in which this replica, as leader, last began a leadership transfer (0:
    /// never). An application lease of that term must not be trusted from then on: the
    /// transferee's campaign bypasses the voters' stickiness, and a `timeoutNow` sent
    /// before the transfer was abandoned may still arrive.
    public var transferStartTerm: UInt64 { raft.transferStartTerm }

    /// The replica that handed this leader its leadership in the current term (its
    /// `timeoutNow` started the campaign this replica won); nil when it is not leader or won
    /// its term by an ordinary election. Lets an application tell a deliberate move (an
    /// operator's or its own placement's transfer) from a failover, whatever it observed in
    /// between.
    public var leadershipTransferredFrom: ReplicaID? {
        let t = raft.transferredFrom
        return raft.state == .leader && t.term == raft.term && t.leader != 0 ? t.leader : nil
    }

    public var status: RaftStatus {
        var progress: [ReplicaID: UInt64] = [:]
        if raft.state == .leader {
            for (i, id) in raft.tracker.progress.ids.enumerated() { progress[id] = raft.tracker.progress.values[i].match }
        }
        return RaftStatus(id: raft.id, hardState: raft.hardState, softState: raft.softState,
                          applied: raft.log.applied, lastIndex: raft.log.lastIndex, progress: progress,
                          leadTransferee: raft.leadTransferee, confState: raft.tracker.confState)
    }
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
