import Base
import Testing
@testable import RaftCore

/// `RawNode.leadershipTransferredFrom`: a leader knows, for its current term only, whether a
/// transfer handed it the leadership and from whom; an election gives nil. The node's
/// placement driver relies on it to tell an operator's move from a failover.
@Suite struct TransferredFromTests {
    @Test func aTransfersWinnerNamesTheOldLeaderAnElectionsWinnerNothing() throws {
        let c = Cluster([1, 2, 3]) { cfg in
            cfg.checkQuorum = true
            cfg.preVote = true
        }
        c.elect(1)
        #expect(c.node(1).leadershipTransferredFrom == nil, "elected, not handed over")

        c.with(1) { $0.transferLeader(to: 2) }
        c.stabilize()
        #expect(c.leader == 2)
        #expect(c.node(2).leadershipTransferredFrom == 1)
        #expect(c.node(1).leadershipTransferredFrom == nil, "a follower reports nothing")

        // Replica 2 is cut off; 1 or 3 takes over by an election: no transfer in its term.
        c.isolated = [2]
        var elected: ReplicaID?
        for _ in 0..<(4 * c.raft(1).electionTimeout) where elected == nil {
            c.tick(1)
            c.tick(3)
            c.stabilize()
            elected = [1, 3].first { c.raft($0).state == .leader }
        }
        let winner = try #require(elected, "no election among 1 and 3")
        c.isolated = []
        c.tick(winner, c.raft(winner).heartbeatTimeout)  // its heartbeat deposes 2
        c.stabilize()
        #expect(c.raft(2).state == .follower)
        #expect(c.node(winner).leadershipTransferredFrom == nil, "won by an election")

        // Handed back to 2: the old (term, 1) record is replaced by this term's.
        c.with(winner) { $0.transferLeader(to: 2) }
        c.stabilize()
        #expect(c.leader == 2)
        #expect(c.node(2).leadershipTransferredFrom == winner)
    }
}
