import Base

/// Message dispatch common to every role: term handling (§5.1), votes (§5.2, §5.4.1,
/// pre-vote, leader stickiness), elections, and the follower / candidate handlers.
extension Raft {
    mutating func step(_ m: Message) throws(RaftError) {
        if m.term == 0 {
            // Local message (or a forwarded proposal / read request).
        } else if m.term > term {
            if m.type == .requestVote || m.type == .requestPreVote {
                let force = m.context == campaignTransferContext
                if !force && ignoresVoteRequests {
                    // Leader stickiness (we heard from a leader within the minimum election
                    // timeout) or a restarted replica's hold: ignore the request (and do
                    // not bump our term).
                    return
                }
            }
            switch m.type {
            case .requestPreVote:
                break  // A pre-vote never changes our term.
            case .requestPreVoteResponse where !m.reject:
                break  // Granted pre-votes carry the future term; the term bumps on winning.
            case .append, .heartbeat, .snapshot:
                becomeFollower(term: m.term, lead: m.from)
            default:
                becomeFollower(term: m.term, lead: 0)
            }
        } else if m.term < term {
            if (checkQuorum || preVote) && (m.type == .heartbeat || m.type == .append) {
                // A stale leader (e.g. partitioned and rejoining) must learn the new term,
                // or, with check-quorum/pre-vote, it could keep a node from ever winning.
                send(Message(type: .appendResponse, to: m.from))
            } else if m.type == .requestPreVote {
                send(Message(type: .requestPreVoteResponse, to: m.from, term: term, reject: true))
            }
            return
        }

        switch m.type {
        case .hup:
            hup(preVote ? .preElection : .election)
        case .requestVote, .requestPreVote:
            // We can vote if this is a repeat of a vote we cast, if we have not voted and
            // know no leader in this term, or for a pre-vote of a future term.
            let canVote = vote == m.from || (vote == 0 && lead == 0)
                || (m.type == .requestPreVote && m.term > term)
            if canVote && log.isUpToDate(lastIndex: m.index, term: m.logTerm) {
                // A granted pre-vote answers with the candidate's (future) term.
                send(Message(type: Raft.voteResponseType(m.type), to: m.from, term: m.term))
                if m.type == .requestVote {
                    electionElapsed = 0
                    vote = m.from
                }
            } else {
                send(Message(type: Raft.voteResponseType(m.type), to: m.from, term: term, reject: true))
            }
        default:
            switch state {
            case .follower: try stepFollower(m)
            case .preCandidate, .candidate: try stepCandidate(m)
            case .leader: try stepLeader(m)
            }
        }
    }

    static func voteResponseType(_ t: MessageType) -> MessageType {
        t == .requestVote ? .requestVoteResponse : .requestPreVoteResponse
    }

    // MARK: Elections

    mutating func hup(_ type: CampaignType) {
        if state == .leader { return }
        if !promotable { return }
        if hasUnappliedConfChanges { return }
        campaign(type)
    }

    mutating func campaign(_ type: CampaignType) {
        let voteType: MessageType
        let voteTerm: UInt64
        if type == .preElection {
            becomePreCandidate()
            voteType = .requestPreVote
            voteTerm = term + 1  // The term we would campaign at.
        } else {
            becomeCandidate()
            voteType = .requestVote
            voteTerm = term
        }
        if poll(id, granted: true) == .won {
            // A single-voter group wins at once.
            if type == .preElection { campaign(.election) } else { becomeLeader() }
            return
        }
        let lastIndex = log.lastIndex
        let lastTerm = log.lastTerm
        let context = type == .transfer ? campaignTransferContext : []
        for voter in tracker.config.voters.ids where voter != id {
            send(Message(type: voteType, to: voter, term: voteTerm, logTerm: lastTerm, index: lastIndex,
                         context: context))
        }
    }

    mutating func poll(_ voter: ReplicaID, granted: Bool) -> VoteResult {
        tracker.recordVote(voter, granted: granted)
        return tracker.tallyVotes().result
    }

    // MARK: Candidate

    mutating func stepCandidate(_ m: Message) throws(RaftError) {
        let myVoteResponse: MessageType = state == .preCandidate ? .requestPreVoteResponse : .requestVoteResponse
        switch m.type {
        case .propose:
            throw .noLeader
        case .append:
            // A leader of our term exists (§5.2): return to follower.
            becomeFollower(term: m.term, lead: m.from)
            handleAppendEntries(m)
        case .heartbeat:
            becomeFollower(term: m.term, lead: m.from)
            handleHeartbeat(m)
        case .snapshot:
            becomeFollower(term: m.term, lead: m.from)
            handleSnapshot(m)
        case myVoteResponse:
            switch poll(m.from, granted: !m.reject) {
            case .won:
                if state == .preCandidate {
                    campaign(.election)
                } else {
                    becomeLeader()
                    bcastAppend()
                }
            case .lost:
                // A pre-candidate that lost stays at its term; a candidate keeps its vote.
                becomeFollower(term: term, lead: 0)
            case .pending:
                break
            }
        default:
            break  // timeoutNow, readIndex, transferLeader: no leader to act on them.
        }
    }

    // MARK: Follower

    mutating func stepFollower(_ m: Message) throws(RaftError) {
        switch m.type {
        case .propose:
            if lead == 0 { throw .noLeader }
            if disableProposalForwarding { throw .notLeader(leaderHint: lead) }
            var forward = m
            forward.to = lead
            send(forward)
        case .append:
            electionElapsed = 0
            lead = m.from
            handleAppendEntries(m)
        case .heartbeat:
            electionElapsed = 0
            lead = m.from
            handleHeartbeat(m)
        case .snapshot:
            electionElapsed = 0
            lead = m.from
            handleSnapshot(m)
        case .transferLeader:
            guard lead != 0 else { return }
            var forward = m
            forward.to = lead
            forward.term = 0
            send(forward)
        case .timeoutNow:
            // The leader asked us to take over: campaign now, skipping pre-vote.
            hup(.transfer)
            if state == .candidate || state == .leader { transferredFrom = (m.from, term) }
        case .readIndex:
            guard lead != 0 else { return }
            var forward = m
            forward.to = lead
            send(forward)
        case .readIndexResponse:
            readStates.append(ReadState(index: m.index, context: m.context))
        default:
            break
        }
    }

    /// AppendEntries receiver (Figure 2): reply false if the log has no entry at
    /// `prevLogIndex` with `prevLogTerm`; otherwise append, truncating conflicts.
    mutating func handleAppendEntries(_ m: Message) {
        if m.index < log.committed {
            // Already committed here: tell the leader where we are.
            send(Message(type: .appendResponse, to: m.from, index: log.committed))
            return
        }
        if let lastNew = log.maybeAppend(index: m.index, logTerm: m.logTerm, commit: m.commit, entries: m.entries) {
            send(Message(type: .appendResponse, to: m.from, index: lastNew))
            return
        }
        // Reject, with a hint that lets the leader skip a whole term of mismatches: the
        // last index whose term is <= the leader's prevLogTerm.
        let hint = log.findConflictByTerm(index: min(m.index, log.lastIndex), term: m.logTerm)
        send(Message(type: .appendResponse, to: m.from, logTerm: hint.term, index: m.index, reject: true,
                     rejectHint: hint.index))
    }

    mutating func handleHeartbeat(_ m: Message) {
        log.commitTo(min(m.commit, log.lastIndex))
        send(Message(type: .heartbeatResponse, to: m.from, context: m.context))
    }

    mutating func handleSnapshot(_ m: Message) {
        guard let s = m.snapshot else { return }
        if restore(s) {
            send(Message(type: .appendResponse, to: m.from, index: log.lastIndex))
        } else {
            send(Message(type: .appendResponse, to: m.from, index: log.committed))
        }
    }

    /// Installs a snapshot from the leader if it is newer than our commit index and we are
    /// in its configuration. If our log already has the snapshot's last entry, only
    /// fast-forwards the commit index.
    mutating func restore(_ s: Snapshot) -> Bool {
        if s.metadata.index <= log.committed { return false }
        if state != .follower {
            // Only a leader of our term sends snapshots, and we would be its follower.
            becomeFollower(term: term + 1, lead: 0)
            return false
        }
        let cs = s.metadata.confState
        guard cs.voters.contains(id) || cs.learners.contains(id) || cs.votersOutgoing.contains(id) else {
            return false
        }
        if log.matchTerm(s.metadata.index, s.metadata.term) {
            log.commitTo(s.metadata.index)
            return false
        }
        guard let restored = try? Changer.restore(cs, maxInflight: tracker.maxInflight,
                                                   lastIndex: s.metadata.index) else { return false }
        log.restore(s)
        _ = switchToConfig(restored.config, restored.progress)
        if let i = tracker.progress.index(of: id) {
            _ = tracker.progress.values[i].maybeUpdate(tracker.progress.values[i].next - 1)
        }
        return true
    }
}
