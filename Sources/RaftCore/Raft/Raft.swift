import Base

/// The context a candidate puts on its vote requests when it campaigns because the
/// leader asked it to (leadership transfer): voters then ignore leader stickiness.
let campaignTransferContext: [UInt8] = Array("CampaignTransfer".utf8)

/// Why a replica campaigns.
enum CampaignType {
    /// Pre-vote round (thesis §9.6): ask whether we could win, without bumping the term.
    case preElection
    /// A real election at `term + 1`.
    case election
    /// A real election requested by the leader (TimeoutNow): bypasses stickiness.
    case transfer
}

/// The Raft state machine of one replica: role, term, vote, the log, the progress of
/// peers and pending reads. Deterministic and synchronous: inputs are `step(_:)` and
/// `tick()`; outputs accumulate in `msgs`, `readStates` and the log's unstable part,
/// which `RawNode` turns into `Ready` values. It owns no I/O, clock or threads.
struct Raft {
    let id: ReplicaID
    var term: UInt64 = 0
    /// Who we voted for in `term` (0: nobody).
    var vote: ReplicaID = 0
    var readStates: [ReadState] = []
    var log: RaftLog
    let maxMsgSize: UInt64
    let maxUncommittedSize: UInt64
    var tracker: ProgressTracker
    var state: StateRole = .follower
    /// Whether this replica is a learner in the current configuration.
    var isLearner = false
    /// Outgoing messages, in emission order.
    var msgs: [Message] = []
    /// The leader of `term` as far as we know (0: unknown).
    var lead: ReplicaID = 0
    /// The replica leadership is being transferred to (0: none).
    var leadTransferee: ReplicaID = 0
    /// The index of the latest conf change entry in the log; a new one may only be
    /// proposed once it has been applied. Leader only.
    var pendingConfIndex: UInt64 = 0
    /// Payload bytes of uncommitted entries in the leader's log (flow control).
    var uncommittedSize: UInt64 = 0
    var readOnly: ReadOnly
    /// Ticks since the last election timeout reset (followers/candidates: since they
    /// last heard a leader or voted; leaders: since the last check-quorum round).
    var electionElapsed = 0
    /// Leader only: ticks since the last heartbeat.
    var heartbeatElapsed = 0
    /// Leader only: ticks since it became leader, plus one (so that 0 means "never" in
    /// `Progress.lastHeardTick`).
    var leaderTicks: UInt64 = 1
    /// The term in which this replica, as leader, last began a leadership transfer (0: never).
    /// A lease of that term is void from then on, even after the transfer was abandoned: a
    /// `timeoutNow` already sent may still arrive and its campaign bypasses stickiness.
    var transferStartTerm: UInt64 = 0
    /// The leader whose `timeoutNow` started this replica's campaign, and that campaign's
    /// term ((0, 0): none yet). Tells a leadership won by a transfer from one won by an
    /// election (`RawNode.leadershipTransferredFrom`).
    var transferredFrom: (leader: ReplicaID, term: UInt64) = (0, 0)
    /// Ticks since the replica was built, counted up to `electionTimeout`.
    var ticksSinceStart = 0
    /// `RaftConfig.holdVotesAfterRestart`, and the replica started with a term.
    var holdsVotesAtStart = false
    let checkQuorum: Bool
    let preVote: Bool
    let heartbeatTimeout: Int
    let electionTimeout: Int
    /// Drawn in `[electionTimeout, 2 * electionTimeout)` on every reset.
    var randomizedElectionTimeout: Int
    let disableProposalForwarding: Bool
    var rng: SeededGenerator
    /// ReadIndex requests received before the leader committed an entry of its term.
    var pendingReadIndexMessages: [Message] = []
    /// Leader: new entries or a new commit index must go out to the followers. Appends
    /// are built once per `Ready` (`flushBroadcast`) rather than once per proposal or
    /// acknowledgement: messages only leave through `Ready` anyway, so batching them
    /// changes nothing observable but the number of messages.
    var pendingBroadcast = false

    init(config c: RaftConfig, storage: any RaftStorage) throws(RaftError) {
        try Raft.validate(c)
        id = c.id
        log = RaftLog(storage: storage, maxCommittedSizePerReady: c.maxCommittedSizePerReady)
        maxMsgSize = c.maxSizePerMsg
        maxUncommittedSize = c.maxUncommittedEntriesSize == 0 ? .max : c.maxUncommittedEntriesSize
        tracker = ProgressTracker(maxInflight: c.maxInflightMsgs)
        readOnly = ReadOnly(option: c.readOnlyOption)
        checkQuorum = c.checkQuorum
        preVote = c.preVote
        heartbeatTimeout = c.heartbeatTicks
        electionTimeout = c.electionTicks
        randomizedElectionTimeout = c.electionTicks
        disableProposalForwarding = c.disableProposalForwarding
        rng = SeededGenerator(seed: c.randomSeed)

        let hardState: HardState
        let confState: ConfState
        do { (hardState, confState) = try storage.initialState() } catch { throw .storage(error) }
        let restored = try Changer.restore(confState, maxInflight: c.maxInflightMsgs, lastIndex: log.lastIndex)
        _ = switchToConfig(restored.config, restored.progress)
        if !hardState.isEmpty {
            guard hardState.commit >= log.committed && hardState.commit <= log.lastIndex else {
                throw .invalidConfig("hard state commit \(hardState.commit) is out of range [\(log.committed), \(log.lastIndex)]")
            }
            log.committed = hardState.commit
            term = hardState.term
            vote = hardState.vote
            holdsVotesAtStart = c.holdVotesAfterRestart && c.checkQuorum && hardState.term > 0
        }
        if c.applied > 0 {
            guard c.applied <= log.committed else {
                throw .invalidConfig("applied \(c.applied) is above the commit index \(log.committed)")
            }
            log.appliedTo(c.applied)
        }
        becomeFollower(term: term, lead: 0)
    }

    /// Rejects unusable configurations.
    ///
    /// Lease-based reads need check-quorum: the lease argument is that a leader which
    /// has heard from a quorum within the last election timeout cannot have been
    /// replaced, because those voters ignore vote requests while they still hear from it
    /// (leader stickiness) and the leader itself steps down once it stops hearing from a
    /// quorum. Both halves are check-quorum's behaviour; without it a partitioned old
    /// leader would keep serving stale reads while a new leader accepts writes.
    static func validate(_ c: RaftConfig) throws(RaftError) {
        if c.id == 0 { throw .invalidConfig("cannot use 0 as replica id") }
        if c.heartbeatTicks <= 0 { throw .invalidConfig("heartbeatTicks must be greater than 0") }
        if c.electionTicks <= c.heartbeatTicks {
            throw .invalidConfig("electionTicks must be greater than heartbeatTicks")
        }
        if c.maxInflightMsgs <= 0 { throw .invalidConfig("maxInflightMsgs must be greater than 0") }
        if c.readOnlyOption == .leaseBased && !c.checkQuorum {
            throw .invalidConfig("readOnlyOption .leaseBased requires checkQuorum")
        }
    }

    var hardState: HardState { HardState(term: term, vote: vote, commit: log.committed) }

    var softState: SoftState { SoftState(leader: lead, role: state) }

    // MARK: Role transitions

    mutating func becomeFollower(term: UInt64, lead: ReplicaID) {
        reset(term: term)
        self.lead = lead
        state = .follower
    }

    mutating func becomeCandidate() {
        precondition(state != .leader, "invalid transition [leader -> candidate]")
        reset(term: term + 1)
        vote = id
        state = .candidate
    }

    /// Unlike `becomeCandidate`, changes neither term nor vote.
    mutating func becomePreCandidate() {
        precondition(state != .leader, "invalid transition [leader -> pre-candidate]")
        tracker.resetVotes()
        lead = 0
        state = .preCandidate
    }

    mutating func becomeLeader() {
        precondition(state != .follower, "invalid transition [follower -> leader]")
        reset(term: term)
        lead = id
        state = .leader
        leaderTicks = 1
        if let i = tracker.progress.index(of: id) {
            // The leader's own entries are always in sync.
            tracker.progress.values[i].becomeReplicate()
            tracker.progress.values[i].recentActive = true
        }
        // Conf changes proposed by earlier leaders may still be uncommitted: block new
        // ones until everything in the log so far has been applied.
        pendingConfIndex = log.lastIndex
        // §5.4.2 / §8: an entry of the new term lets the leader commit everything before
        // it (and learn the commit index for ReadIndex).
        var empty = [Entry(term: 0, index: 0)]
        let appended = appendEntries(&empty)
        precondition(appended, "empty entry was dropped")
    }

    mutating func reset(term newTerm: UInt64) {
        if term != newTerm {
            term = newTerm
            vote = 0
        }
        lead = 0
        electionElapsed = 0
        heartbeatElapsed = 0
        resetRandomizedElectionTimeout()
        abortLeaderTransfer()
        tracker.resetVotes()
        let last = log.lastIndex
        for i in tracker.progress.values.indices {
            let learner = tracker.progress.values[i].isLearner
            var pr = Progress(match: 0, next: last + 1, maxInflight: tracker.maxInflight, isLearner: learner)
            if tracker.progress.ids[i] == id { pr.match = last }
            tracker.progress.values[i] = pr
        }
        pendingConfIndex = 0
        uncommittedSize = 0
        pendingBroadcast = false
        readOnly = ReadOnly(option: readOnly.option)
        pendingReadIndexMessages.removeAll()
    }

    mutating func resetRandomizedElectionTimeout() {
        randomizedElectionTimeout = electionTimeout + Int.random(in: 0..<electionTimeout, using: &rng)
    }

    mutating func abortLeaderTransfer() { leadTransferee = 0 }

    var pastElectionTimeout: Bool { electionElapsed >= randomizedElectionTimeout }

    /// Whether this replica may campaign: it is a voter and is not waiting to apply a
    /// snapshot.
    var promotable: Bool {
        guard let pr = tracker.progress[id] else { return false }
        return !pr.isLearner && !log.hasPendingSnapshot
    }

    // MARK: Ticks

    mutating func tick() {
        if ticksSinceStart < electionTimeout { ticksSinceStart += 1 }
        if state == .leader { tickHeartbeat() } else { tickElection() }
    }

    /// Whether (pre-)vote requests of a higher term are ignored now (except a transfer's):
    /// leader stickiness (we heard from a leader within the minimum election timeout), or
    /// the hold of a restarted replica (`RaftConfig.holdVotesAfterRestart`).
    var ignoresVoteRequests: Bool {
        guard checkQuorum else { return false }
        if lead != 0 && electionElapsed < electionTimeout { return true }
        return holdsVotesAtStart && ticksSinceStart < electionTimeout
    }

    /// A follower forgets its leader because something outside Raft (the node's failure
    /// detector) says the leader has been silent for at least an election timeout: it
    /// stops ignoring (pre-)vote requests at once (`ignoresVoteRequests` needs a leader)
    /// and counts that timeout as elapsed, so it campaigns after only the random part of
    /// its election timeout. Hearing from the leader again restores it. Safety is
    /// unchanged (who may win an election is Raft's vote rule alone); a leader, candidate
    /// or leaderless follower is left as it is.
    mutating func forgetLeader() {
        guard state == .follower, lead != 0 else { return }
        lead = 0
        electionElapsed = max(electionElapsed, electionTimeout)
    }

    mutating func tickElection() {
        electionElapsed += 1
        if promotable && pastElectionTimeout {
            electionElapsed = 0
            try? step(Message(type: .hup, from: id))
        }
    }

    mutating func tickHeartbeat() {
        leaderTicks += 1
        heartbeatElapsed += 1
        electionElapsed += 1
        if electionElapsed >= electionTimeout {
            electionElapsed = 0
            if checkQuorum { try? step(Message(type: .checkQuorum, from: id)) }
            // A transfer that did not finish within an election timeout is abandoned.
            if state == .leader && leadTransferee != 0 { abortLeaderTransfer() }
        }
        guard state == .leader else { return }
        if heartbeatElapsed >= heartbeatTimeout {
            heartbeatElapsed = 0
            try? step(Message(type: .beat, from: id))
        }
    }

    // MARK: Sending

    /// Queues `m`, stamping `from` (unless forwarded) and the current term (except for
    /// votes, which carry their own, and forwarded proposals / read requests, which
    /// carry none).
    mutating func send(_ message: consuming Message) {
        var m = message
        if m.from == 0 { m.from = id }
        switch m.type {
        case .requestVote, .requestVoteResponse, .requestPreVote, .requestPreVoteResponse:
            precondition(m.term != 0, "term should be set when sending \(m.type)")
        default:
            precondition(m.term == 0, "term should not be set when sending \(m.type) (was \(m.term))")
            if m.type != .propose && m.type != .readIndex { m.term = term }
        }
        msgs.append(m)
    }

    /// Sends the appends a leader deferred (see `pendingBroadcast`).
    mutating func flushBroadcast() {
        guard pendingBroadcast else { return }
        pendingBroadcast = false
        if state == .leader { bcastAppend() }
    }

    // MARK: Log appends and uncommitted size

    /// Leader: stamps `entries` with the term and next indexes and appends them; false
    /// (nothing appended) if that would exceed `maxUncommittedSize`.
    mutating func appendEntries(_ entries: inout [Entry]) -> Bool {
        let last = log.lastIndex
        var size: UInt64 = 0
        for i in entries.indices {
            entries[i].term = term
            entries[i].index = last + 1 + UInt64(i)
            size += UInt64(entries[i].payloadSize)
        }
        // At least one entry is always accepted when nothing is outstanding.
        if uncommittedSize > 0 && size > 0 && uncommittedSize + size > maxUncommittedSize { return false }
        uncommittedSize += size
        let newLast = log.append(entries[...])
        if let i = tracker.progress.index(of: id) {
            _ = tracker.progress.values[i].maybeUpdate(newLast)
        }
        _ = maybeCommit()
        return true
    }

    mutating func reduceUncommittedSize(_ entries: [Entry]) {
        guard uncommittedSize > 0 else { return }
        var size: UInt64 = 0
        for e in entries { size += UInt64(e.payloadSize) }
        uncommittedSize = size > uncommittedSize ? 0 : uncommittedSize - size
    }

    /// Advances the commit index to what a quorum has replicated, if that entry is of the
    /// current term (§5.4.2: never commit an older term's entry by counting replicas).
    mutating func maybeCommit() -> Bool {
        log.maybeCommit(index: tracker.committed(), term: term)
    }

    var committedEntryInCurrentTerm: Bool { log.termOrZero(log.committed) == term }

    /// Whether a conf change entry is committed but not yet applied (no campaigning then:
    /// the configuration we would campaign with is about to change).
    var hasUnappliedConfChanges: Bool {
        guard log.applied < log.committed else { return false }
        let ents = (try? log.slice(log.applied + 1, log.committed + 1, maxBytes: .max)) ?? []
        return ents.contains { $0.type == .confChange }
    }

    // MARK: Application feedback

    /// The application applied up to `index`. A leader in an auto-leave joint
    /// configuration proposes leaving it once the entry that entered it is applied.
    mutating func appliedTo(_ index: UInt64) {
        let newApplied = max(index, log.applied)
        log.appliedTo(newApplied)
        if tracker.config.autoLeave && newApplied >= pendingConfIndex && state == .leader {
            let leave = Entry(term: 0, index: 0, type: .confChange, data: ConfChange(changes: []).encoded())
            try? step(Message(type: .propose, from: id, entries: [leave]))
        }
    }

    mutating func advance(_ rd: Ready) {
        let newApplied = rd.committedEntries.last?.index ?? rd.snapshot?.metadata.index ?? 0
        if let s = rd.snapshot { log.stableSnapTo(index: s.metadata.index) }
        if let e = rd.entries.last { log.stableTo(index: e.index, term: e.term) }
        if newApplied > 0 { appliedTo(newApplied) }
        reduceUncommittedSize(rd.committedEntries)
    }
}
