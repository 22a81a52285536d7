import Base
import Testing
@testable import RaftCore

/// Rules of the Raft paper's Figure 2 and §5.1–5.2 (terms and leader election), one test
/// per rule, in the spirit of etcd's raft_paper_test.go.
@Suite struct PaperElectionTests {
    enum Role: CaseIterable { case follower, candidate, leader }

    static func raft(in role: Role) -> Raft {
        var r = newRaft(1, peers: [1, 2, 3])
        switch role {
        case .follower: r.becomeFollower(term: 1, lead: 2)
        case .candidate: r.becomeCandidate()
        case .leader:
            r.becomeCandidate()
            r.becomeLeader()
        }
        return r
    }

    /// §5.1: "If one server's current term is smaller than the other's, then it updates
    /// its current term to the larger value. If a candidate or leader discovers that its
    /// term is out of date, it immediately reverts to follower state."
    @Test(arguments: Role.allCases) func updatesTermFromHigherTermMessage(_ role: Role) throws {
        var r = Self.raft(in: role)
        try r.step(appendMessage(from: 2, to: 1, term: 2, logTerm: 0, index: 0))
        #expect(r.term == 2)
        #expect(r.state == .follower)
        #expect(r.lead == 2, "an append's sender is the leader of its term")
    }

    /// §5.1: "If a server receives a request with a stale term number, it rejects the
    /// request." (Without check-quorum/pre-vote it does not even answer.)
    @Test func ignoresStaleTermMessage() throws {
        var r = newRaft(1, peers: [1, 2, 3], hardState: HardState(term: 2))
        try r.step(appendMessage(from: 2, to: 1, term: 1, logTerm: 0, index: 0, entries: [Entry(term: 1, index: 1)]))
        #expect(r.term == 2)
        #expect(r.log.lastIndex == 0, "stale append must not touch the log")
        #expect(r.readMessages().isEmpty)
    }

    /// §5.2: "When servers start up, they begin as followers."
    @Test func startsAsFollower() {
        let r = newRaft(1, peers: [1, 2, 3])
        #expect(r.state == .follower)
        #expect(r.term == 0)
    }

    /// §5.2: "Leaders send periodic heartbeats (AppendEntries RPCs that carry no log
    /// entries) to all followers in order to maintain their authority."
    @Test func leaderBroadcastsHeartbeatEveryHeartbeatTimeout() {
        var r = newRaft(1, peers: [1, 2, 3], heartbeat: 2)
        r.becomeCandidate()
        r.becomeLeader()
        r.persistAll()
        _ = r.readMessages()
        r.tick()
        #expect(r.readMessages().isEmpty, "one tick is less than the heartbeat timeout")
        r.tick()
        let msgs = r.readMessages()
        #expect(msgs.map(\.to) == [2, 3])
        #expect(msgs.allSatisfy { $0.type == .heartbeat && $0.term == 1 && $0.entries.isEmpty })
    }

    /// §5.2: "If a follower receives no communication over a period of time called the
    /// election timeout, then it ... begins an election": it increments its term, votes
    /// for itself and requests votes from every other server. A candidate whose election
    /// times out starts a new one.
    @Test(arguments: [Role.follower, Role.candidate]) func startsElectionOnTimeout(_ role: Role) {
        var r = Self.raft(in: role)
        let before = r.term
        _ = r.readMessages()
        for _ in 0..<(2 * r.electionTimeout) { r.tick() }
        #expect(r.state == .candidate)
        #expect(r.term == before + 1)
        #expect(r.vote == 1)
        #expect(r.tracker.votes[1] == true)
        let msgs = r.readMessages()
        #expect(msgs.map(\.to) == [2, 3])
        #expect(msgs.allSatisfy { $0.type == .requestVote && $0.term == before + 1 })
    }

    /// §5.2: "A candidate wins an election if it receives votes from a majority of the
    /// servers in the full cluster for the same term"; otherwise it stays candidate
    /// until a majority rejects it.
    @Test func winsElectionWithMajorityOfVotes() throws {
        struct Case { var size: Int; var votes: [ReplicaID: Bool]; var state: StateRole }
        let cases: [Case] = [
            Case(size: 1, votes: [:], state: .leader),
            Case(size: 3, votes: [2: true, 3: true], state: .leader),
            Case(size: 3, votes: [2: true], state: .leader),
            Case(size: 5, votes: [2: true, 3: true, 4: true, 5: true], state: .leader),
            Case(size: 5, votes: [2: true, 3: true], state: .leader),
            Case(size: 3, votes: [2: false, 3: false], state: .follower),
            Case(size: 5, votes: [2: false, 3: false, 4: false], state: .follower),
            Case(size: 3, votes: [:], state: .candidate),
            Case(size: 5, votes: [2: true], state: .candidate),
            Case(size: 5, votes: [2: false, 3: false], state: .candidate),
        ]
        for (i, c) in cases.enumerated() {
            let peers = (1...UInt64(c.size)).map { $0 }
            var r = newRaft(1, peers: peers)
            try r.step(Message(type: .hup, from: 1))
            for (id, granted) in c.votes.sorted(by: { $0.key < $1.key }) {
                try r.step(Message(type: .requestVoteResponse, to: 1, from: id, term: r.term, reject: !granted))
            }
            #expect(r.state == c.state, "case \(i)")
            #expect(r.term == 1, "case \(i)")
        }
    }

    /// Figure 2, RequestVote receiver: "If votedFor is null or candidateId, and
    /// candidate's log is at least as up-to-date as receiver's log, grant vote" — at most
    /// one candidate per term, first come first served.
    @Test func votesAtMostOncePerTerm() throws {
        struct Case { var voted: ReplicaID; var candidate: ReplicaID; var reject: Bool }
        let cases = [
            Case(voted: 0, candidate: 2, reject: false),
            Case(voted: 0, candidate: 3, reject: false),
            Case(voted: 2, candidate: 2, reject: false),
            Case(voted: 3, candidate: 3, reject: false),
            Case(voted: 2, candidate: 3, reject: true),
            Case(voted: 3, candidate: 2, reject: true),
        ]
        for (i, c) in cases.enumerated() {
            var r = newRaft(1, peers: [1, 2, 3], hardState: HardState(term: 1, vote: c.voted))
            try r.step(Message(type: .requestVote, to: 1, from: c.candidate, term: 1))
            let msgs = r.readMessages()
            #expect(msgs.count == 1 && msgs[0].type == .requestVoteResponse && msgs[0].reject == c.reject,
                    "case \(i)")
            #expect(r.vote == (c.reject ? c.voted : c.candidate), "case \(i)")
        }
    }

    /// §5.2: "If the AppendEntries RPC is from another server claiming to be leader whose
    /// term is at least as large as the candidate's current term, then the candidate
    /// recognizes the leader as legitimate and returns to follower state."
    @Test(arguments: [UInt64(0), 1]) func candidateFallsBackOnAppendFromLeader(_ termDelta: UInt64) throws {
        var r = newRaft(1, peers: [1, 2, 3])
        try r.step(Message(type: .hup, from: 1))
        #expect(r.state == .candidate)
        let term = r.term + termDelta
        try r.step(appendMessage(from: 2, to: 1, term: term, logTerm: 0, index: 0))
        #expect(r.state == .follower)
        #expect(r.term == term)
        #expect(r.lead == 2)
    }

    /// §5.2: "Raft uses randomized election timeouts ... chosen randomly from a fixed
    /// interval": here [electionTimeout, 2 * electionTimeout).
    @Test(arguments: [Role.follower, Role.candidate]) func electionTimeoutIsRandomized(_ role: Role) {
        var r = Self.raft(in: role)
        var seen = Set<Int>()
        for _ in 0..<200 {
            r.becomeFollower(term: r.term + 1, lead: 0)
            if role == .candidate { r.becomeCandidate() }
            var ticks = 0
            let term = r.term
            while r.term == term {
                r.tick()
                ticks += 1
                precondition(ticks < 100)
            }
            seen.insert(ticks)
        }
        #expect(seen.min()! >= r.electionTimeout)
        #expect(seen.max()! < 2 * r.electionTimeout)
        #expect(seen.count > r.electionTimeout / 2, "timeouts should vary: \(seen.sorted())")
    }

    /// §5.2: randomized timeouts make split votes rare: replicas seeded differently time
    /// out at different ticks most of the time.
    @Test func electionTimeoutsRarelyConflict() {
        var conflicts = 0
        for seed in UInt64(0)..<100 {
            let a = newRaft(1, peers: [1, 2]) { $0.randomSeed = seed * 2 }
            let b = newRaft(2, peers: [1, 2]) { $0.randomSeed = seed * 2 + 1 }
            if a.randomizedElectionTimeout == b.randomizedElectionTimeout { conflicts += 1 }
        }
        #expect(conflicts < 30, "conflicts: \(conflicts)/100")
    }

    /// §5.4.1 / Figure 2: the candidate's RequestVote carries its last log index and term.
    @Test func voteRequestCarriesLastLogIndexAndTerm() throws {
        var r = newRaft(1, peers: [1, 2, 3], log: entries(terms: [1, 2]), hardState: HardState(term: 2))
        try r.step(Message(type: .hup, from: 1))
        let msgs = r.readMessages()
        #expect(msgs.count == 2)
        for m in msgs {
            #expect(m.type == .requestVote && m.term == 3 && m.index == 2 && m.logTerm == 2)
        }
    }

    /// §5.4.1: "the voter denies its vote if its own log is more up-to-date than that of
    /// the candidate": compare last terms, then lengths.
    @Test func voterRejectsLessUpToDateLog() throws {
        struct Case { var log: [UInt64]; var logTerm: UInt64; var index: UInt64; var reject: Bool }
        let cases = [
            // same last term: longer or equal wins
            Case(log: [1], logTerm: 1, index: 1, reject: false),
            Case(log: [1], logTerm: 1, index: 2, reject: false),
            Case(log: [1, 1], logTerm: 1, index: 1, reject: true),
            // higher last term wins regardless of length
            Case(log: [1], logTerm: 2, index: 1, reject: false),
            Case(log: [1, 1], logTerm: 2, index: 1, reject: false),
            // lower last term loses regardless of length
            Case(log: [2], logTerm: 1, index: 1, reject: true),
            Case(log: [2], logTerm: 1, index: 3, reject: true),
        ]
        for (i, c) in cases.enumerated() {
            var r = newRaft(1, peers: [1, 2], log: entries(terms: c.log))
            try r.step(Message(type: .requestVote, to: 1, from: 2, term: 3, logTerm: c.logTerm, index: c.index))
            let msgs = r.readMessages()
            #expect(msgs.count == 1 && msgs[0].reject == c.reject, "case \(i)")
        }
    }
}
