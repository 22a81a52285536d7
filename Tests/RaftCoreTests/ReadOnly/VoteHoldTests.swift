import Base
import Testing
@testable import RaftCore

/// The two RaftCore facts the node's oracle lease rests on besides stickiness
/// (architecture.md §11, "Oracle lease"): a restarted voter does not vote for an election
/// timeout (`RaftConfig.holdVotesAfterRestart`), and a leader remembers the term in which it
/// began a leadership transfer (`RawNode.transferStartTerm`), even once it gave up on it.
@Suite struct VoteHoldTests {
    /// Replica 2 as if restarted: it has a term and a vote on disk but heard no leader since.
    static func restarted(hold: Bool, term: UInt64 = 5) -> Cluster {
        let c = Cluster()
        let cs = ConfState(voters: [1, 2, 3])
        try! c.add(2, confState: cs, hardState: term == 0 ? nil : HardState(term: term, vote: 1, commit: 0)) { cfg in
            cfg.checkQuorum = true
            cfg.preVote = true
            cfg.holdVotesAfterRestart = hold
        }
        return c
    }

    /// Steps a (pre-)vote request of term 6 from 3 and returns what 2 answered (nil: ignored).
    static func ask(_ c: Cluster, _ type: MessageType, transfer: Bool = false) -> Message? {
        c.with(2) { n in
            try? n.step(Message(type: type, to: 2, from: 3, term: 6, logTerm: 0, index: 0,
                                context: transfer ? campaignTransferContext : []))
        }
        let rd = c.processReady(2)
        c.queue.removeAll()
        return rd?.messages.first { $0.type == Raft.voteResponseType(type) }
    }

    @Test(arguments: [MessageType.requestVote, .requestPreVote])
    func restartedVoterIgnoresVotesForAnElectionTimeout(_ type: MessageType) {
        let c = Self.restarted(hold: true)
        let election = c.raft(2).electionTimeout
        for t in 0..<election {
            #expect(Self.ask(c, type) == nil, "answered a \(type) after \(t) ticks of \(election)")
            c.tick(2)
        }
        let answer = Self.ask(c, type)
        #expect(answer != nil && answer?.reject == false, "no vote after the hold: \(String(describing: answer))")
    }

    @Test(arguments: [MessageType.requestVote, .requestPreVote])
    func withoutTheHoldARestartedVoterVotesAtOnce(_ type: MessageType) {
        let c = Self.restarted(hold: false)
        let answer = Self.ask(c, type)
        #expect(answer != nil && answer?.reject == false)
    }

    @Test func aTransfersCampaignAndAFreshReplicaAreNotHeld() {
        let c = Self.restarted(hold: true)
        let forced = Self.ask(c, .requestVote, transfer: true)
        #expect(forced != nil && forced?.reject == false, "a transfer's campaign bypasses the hold")
        let fresh = Self.restarted(hold: true, term: 0)
        let answer = Self.ask(fresh, .requestVote)
        #expect(answer != nil && answer?.reject == false, "a replica that never had a term is not held")
    }

    @Test func transferStartTermOutlivesTheAbandonedTransfer() throws {
        let c = Cluster([1, 2, 3]) { cfg in
            cfg.checkQuorum = true
            cfg.preVote = true
        }
        c.elect(1)
        let term = c.raft(1).term
        #expect(c.node(1).transferStartTerm == 0)
        c.isolated = [3]  // 3 never catches up: the transfer cannot finish
        try c.propose(1, "x")
        c.stabilize()
        c.with(1) { $0.transferLeader(to: 3) }
        #expect(c.raft(1).leadTransferee == 3 && c.node(1).transferStartTerm == term)
        for _ in 0..<c.raft(1).electionTimeout {
            c.tick(1)
            c.stabilize()
        }
        #expect(c.raft(1).state == .leader && c.raft(1).leadTransferee == 0, "transfer abandoned, still leading")
        #expect(c.node(1).transferStartTerm == term, "the term of the abandoned transfer is kept")
    }
}
