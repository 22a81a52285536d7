import Base

/// The leader's side: proposals, replication with flow control, commit, heartbeats,
/// check-quorum, ReadIndex and leadership transfer.
extension Raft {
    mutating func stepLeader(_ m: Message) throws(RaftError) {
        // Messages that need no progress of the sender.
        switch m.type {
        case .beat:
            bcastHeartbeat()
            return
        case .checkQuorum:
            if !tracker.quorumActive() {
                // We cannot reach a quorum: someone else may have been elected.
                becomeFollower(term: term, lead: 0)
            }
            for i in tracker.progress.values.indices where tracker.progress.ids[i] != id {
                tracker.progress.values[i].recentActive = false
            }
            return
        case .propose:
            try handlePropose(m)
            return
        case .readIndex:
            if tracker.isSingleton {
                if let resp = responseToReadIndex(m, index: log.committed) { send(resp) }
                return
            }
            // Until an entry of this term commits, the leader does not know the commit
            // index of the previous term (thesis §6.4): postpone.
            if !committedEntryInCurrentTerm {
                pendingReadIndexMessages.append(m)
                return
            }
            serveReadIndex(m)
            return
        default:
            break
        }

        guard let pi = tracker.progress.index(of: m.from) else { return }
        switch m.type {
        case .appendResponse:
            handleAppendResponse(m, pi)
        case .heartbeatResponse:
            tracker.progress.values[pi].recentActive = true
            tracker.progress.values[pi].lastHeardTick = leaderTicks
            tracker.progress.values[pi].msgAppFlowPaused = false
            if tracker.progress.values[pi].match < log.lastIndex { sendAppend(to: m.from) }
            // Acks count for queued reads whatever the option: lease reads fall back to
            // the safe path when the lease is not valid.
            guard !m.context.isEmpty,
                  let acks = readOnly.recvAck(from: m.from, context: m.context),
                  tracker.config.voters.voteResult({ acks.contains($0) ? true : nil }) == .won
            else { return }
            for status in readOnly.advance(context: m.context) {
                if let resp = responseToReadIndex(status.request, index: status.index) { send(resp) }
            }
        case .snapshotStatus:
            guard tracker.progress.values[pi].state == .snapshot else { return }
            if m.reject { tracker.progress.values[pi].pendingSnapshot = 0 }
            tracker.progress.values[pi].becomeProbe()
            // Wait for a heartbeat response (or an append response) before probing, so
            // that a successful snapshot has a chance to be acknowledged first.
            tracker.progress.values[pi].msgAppFlowPaused = true
        case .unreachable:
            // The transport dropped an append: the follower's state is unknown again.
            if tracker.progress.values[pi].state == .replicate { tracker.progress.values[pi].becomeProbe() }
        case .transferLeader:
            handleTransferLeader(m, pi)
        default:
            break
        }
    }

    private mutating func handlePropose(_ m: Message) throws(RaftError) {
        precondition(!m.entries.isEmpty, "stepped empty proposal")
        // A leader removed from the configuration (not yet stepped down) cannot commit.
        guard tracker.progress.contains(id) else { throw .notLeader(leaderHint: 0) }
        if leadTransferee != 0 { throw .transferInProgress }
        var entries = m.entries
        var newPendingConfIndex: UInt64?
        for i in entries.indices where entries[i].type == .confChange {
            let cc = try ConfChange(decoding: entries[i].data)
            let joint = tracker.config.voters.isJoint
            if pendingConfIndex > log.applied || newPendingConfIndex != nil { throw .confChangePending }
            if joint && !cc.isLeaveJoint { throw .confChangePending }
            if !joint && cc.isLeaveJoint {
                throw .invalidConfChange("not in a joint config: refusing empty conf change")
            }
            // Reject what could not be applied (e.g. removing every voter) up front, so a
            // committed conf change always applies.
            _ = try Changer(tracker: tracker, lastIndex: log.lastIndex).apply(change: cc)
            newPendingConfIndex = log.lastIndex + UInt64(i) + 1
        }
        guard appendEntries(&entries) else { throw .uncommittedLogFull }
        if let p = newPendingConfIndex { pendingConfIndex = p }
        pendingBroadcast = true
    }

    private mutating func handleAppendResponse(_ m: Message, _ pi: Int) {
        tracker.progress.values[pi].recentActive = true
        tracker.progress.values[pi].lastHeardTick = leaderTicks
        if m.reject {
            var nextProbe = m.rejectHint
            if m.logTerm > 0 {
                // The follower's log has term m.logTerm at rejectHint: skip every entry of
                // ours with a larger term in one round trip.
                nextProbe = log.findConflictByTerm(index: m.rejectHint, term: m.logTerm).index
            }
            if tracker.progress.values[pi].maybeDecrTo(rejected: m.index, matchHint: nextProbe) {
                if tracker.progress.values[pi].state == .replicate { tracker.progress.values[pi].becomeProbe() }
                sendAppend(to: m.from)
            }
            return
        }
        let oldPaused = tracker.progress.values[pi].isPaused
        let updated = tracker.progress.values[pi].maybeUpdate(m.index)
        let pr = tracker.progress.values[pi]
        guard updated || (pr.match == m.index && pr.state == .probe) else { return }
        switch pr.state {
        case .probe:
            tracker.progress.values[pi].becomeReplicate()
        case .snapshot where pr.match + 1 >= log.firstIndex:
            // The snapshot (or appends after it) caught the follower up.
            tracker.progress.values[pi].becomeProbe()
            tracker.progress.values[pi].becomeReplicate()
        case .snapshot where pr.match >= pr.pendingSnapshot:
            // The snapshot arrived, but the log was compacted past it meanwhile: probe,
            // which sends a newer snapshot.
            tracker.progress.values[pi].becomeProbe()
        case .replicate:
            tracker.progress.values[pi].inflights.freeLE(m.index)
        case .snapshot:
            break
        }
        if maybeCommit() {
            releasePendingReadIndexMessages()
            pendingBroadcast = true
        } else if oldPaused && !pendingBroadcast {
            // The follower was waiting: tell it the commit index now (unless the
            // pending broadcast will).
            sendAppend(to: m.from)
        }
        // Flow control may now allow several more appends.
        while maybeSendAppend(to: m.from, sendIfEmpty: false) {}
        if m.from == leadTransferee && tracker.progress.values[pi].match == log.lastIndex {
            sendTimeoutNow(to: m.from)
        }
    }

    private mutating func handleTransferLeader(_ m: Message, _ pi: Int) {
        if tracker.progress.values[pi].isLearner { return }
        let transferee = m.from
        if leadTransferee != 0 {
            if leadTransferee == transferee { return }  // Already in progress.
            abortLeaderTransfer()
        }
        if transferee == id { return }
        // The transfer must finish within an election timeout (see tickHeartbeat).
        electionElapsed = 0
        leadTransferee = transferee
        transferStartTerm = term
        if tracker.progress.values[pi].match == log.lastIndex {
            sendTimeoutNow(to: transferee)
        } else {
            sendAppend(to: transferee)
        }
    }

    mutating func sendTimeoutNow(to: ReplicaID) {
        send(Message(type: .timeoutNow, to: to))
    }

    // MARK: Replication

    mutating func bcastAppend() {
        for peer in tracker.progress.ids where peer != id { sendAppend(to: peer) }
    }

    mutating func sendAppend(to: ReplicaID) {
        _ = maybeSendAppend(to: to, sendIfEmpty: true)
    }

    /// Sends the next append to `to` if flow control allows (an empty one, carrying just
    /// the commit index, only if `sendIfEmpty`). Falls back to a snapshot when the
    /// entries needed were compacted. Returns whether a message was sent.
    mutating func maybeSendAppend(to: ReplicaID, sendIfEmpty: Bool) -> Bool {
        guard let pi = tracker.progress.index(of: to) else { return false }
        if tracker.progress.values[pi].isPaused { return false }
        let next = tracker.progress.values[pi].next
        let prevIndex = next - 1
        let prevTerm = log.termIfAvailable(prevIndex)
        var entries: [Entry] = []
        var entriesCompacted = next < log.firstIndex
        if !entriesCompacted
            && (tracker.progress.values[pi].state != .replicate || !tracker.progress.values[pi].inflights.isFull) {
            do { entries = try log.entries(from: next, maxBytes: maxMsgSize) } catch { entriesCompacted = true }
        }
        if entries.isEmpty && !sendIfEmpty { return false }
        guard let prevTerm, !entriesCompacted else { return maybeSendSnapshot(to: to, pi) }
        let count = entries.count
        send(Message(type: .append, to: to, logTerm: prevTerm, index: prevIndex, entries: entries,
                     commit: log.committed))
        tracker.progress.values[pi].sentEntries(count)
        return true
    }

    private mutating func maybeSendSnapshot(to: ReplicaID, _ pi: Int) -> Bool {
        // Only send to followers that answer: a snapshot is expensive.
        guard tracker.progress.values[pi].recentActive else { return false }
        guard let snapshot = try? log.snapshot() else { return false }  // Temporarily unavailable.
        precondition(!snapshot.isEmpty, "need non-empty snapshot")
        tracker.progress.values[pi].becomeSnapshot(index: snapshot.metadata.index)
        send(Message(type: .snapshot, to: to, snapshot: snapshot))
        return true
    }

    // MARK: Heartbeats

    mutating func bcastHeartbeat() {
        bcastHeartbeat(context: readOnly.lastPendingRequestContext)
    }

    mutating func bcastHeartbeat(context: [UInt8]) {
        for i in tracker.progress.ids.indices where tracker.progress.ids[i] != id {
            // Never tell a follower to commit beyond what it is known to hold.
            let commit = min(tracker.progress.values[i].match, log.committed)
            send(Message(type: .heartbeat, to: tracker.progress.ids[i], commit: commit, context: context))
        }
    }

    // MARK: ReadIndex

    mutating func serveReadIndex(_ m: Message) {
        if readOnly.option == .leaseBased && leaseValid {
            if let resp = responseToReadIndex(m, index: log.committed) { send(resp) }
            return
        }
        // Record the commit index now; serve once a quorum confirms we still lead.
        readOnly.addRequest(index: log.committed, m)
        _ = readOnly.recvAck(from: id, context: m.context)
        bcastHeartbeat(context: m.context)
    }

    /// Ticks of margin between the leader's lease and its followers' stickiness: both
    /// sides count whole ticks (up to one tick each of quantisation error).
    static var leaseMarginTicks: UInt64 { 2 }

    /// Whether this leader may serve a read without a heartbeat round (leader lease).
    ///
    /// A voter that heard from the leader ignores vote requests for an election timeout
    /// (check-quorum's leader stickiness), so no other leader can be elected while a
    /// quorum heard from this one less than an election timeout ago. The leader heard
    /// the voter's answer after the voter's timer restarted, so counting from the
    /// answer, minus a margin for tick quantisation, stays inside every such window
    /// (given bounded clock drift). This is stricter than etcd, whose lease is only
    /// check-quorum's step-down, which can lag up to two election timeouts. No lease
    /// during a leadership transfer: the transferee campaigns at once, bypassing
    /// stickiness.
    var leaseValid: Bool {
        guard state == .leader, leadTransferee == 0,
              UInt64(electionTimeout) > Self.leaseMarginTicks else { return false }
        let window = UInt64(electionTimeout) - Self.leaseMarginTicks
        return tracker.config.voters.voteResult { voter in
            if voter == id { return true }
            guard let pr = tracker.progress[voter], pr.lastHeardTick > 0 else { return nil }
            return leaderTicks - pr.lastHeardTick < window ? true : nil
        } == .won
    }

    /// A local request becomes a ReadState; a forwarded one gets a response message.
    mutating func responseToReadIndex(_ request: Message, index: UInt64) -> Message? {
        if request.from == 0 || request.from == id {
            readStates.append(ReadState(index: index, context: request.context))
            return nil
        }
        return Message(type: .readIndexResponse, to: request.from, index: index, context: request.context)
    }

    mutating func releasePendingReadIndexMessages() {
        guard !pendingReadIndexMessages.isEmpty, committedEntryInCurrentTerm else { return }
        let pending = pendingReadIndexMessages
        pendingReadIndexMessages.removeAll()
        for m in pending { serveReadIndex(m) }
    }
}
