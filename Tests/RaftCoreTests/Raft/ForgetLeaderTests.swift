import Base
import Testing
@testable import RaftCore

/// `RawNode.forgetLeader`: what a follower does when the node's failure detector says its
/// leader has been silent for an election timeout (NodeHost's `checkLiveness`).
@Suite struct ForgetLeaderTests {
    static func group(seed: UInt64 = 0) -> Cluster {
        let c = Cluster([1, 2, 3]) { cfg in
            cfg.checkQuorum = true
            cfg.preVote = true
            cfg.randomSeed = seed &* 1_000 &+ cfg.id
        }
        c.elect(1)
        return c
    }

    /// Steps a pre-vote request of the next term from 3 (with an up-to-date log) into 2 and
    /// returns 2's answer (nil: ignored).
    static func askPreVote(_ c: Cluster) -> Message? {
        let r = c.raft(3)
        let m = Message(type: .requestPreVote, to: 2, from: 3, term: r.term + 1,
                        logTerm: r.log.lastTerm, index: r.log.lastIndex)
        c.with(2) { n in try? n.step(m) }
        let rd = c.processReady(2)
        c.queue.removeAll()
        return rd?.messages.first { $0.type == .requestPreVoteResponse }
    }

    @Test func aFollowerThatForgotItsLeaderGrantsPreVotesAtOnce() {
        let c = Self.group()
        #expect(Self.askPreVote(c) == nil, "a follower that heard its leader ignores pre-votes (stickiness)")
        c.with(2) { $0.forgetLeader() }
        #expect(c.raft(2).lead == 0)
        let answer = Self.askPreVote(c)
        #expect(answer != nil && answer?.reject == false, "granted after forgetting: \(String(describing: answer))")
    }

    /// Ticks (of both followers, one each per step) until 2 or 3 leads, with leader 1 cut
    /// off; the followers forget it first when `forget`. nil: no leader after 4 timeouts.
    static func ticksToNewLeader(seed: UInt64, forget: Bool) -> Int? {
        let c = Self.group(seed: seed)
        let timeout = c.raft(2).electionTimeout
        // Quiesced followers: their election counters stopped right after the leader's last
        // (quiesce) heartbeat, so they stand at 0–2 ticks when the detector wakes them.
        c.tick(2, Int(seed) % 3)
        c.tick(3, Int(seed / 3) % 3)
        c.isolated = [1]
        if forget {
            c.with(2) { $0.forgetLeader() }
            c.with(3) { $0.forgetLeader() }
        }
        for ticks in 1...(4 * timeout) {
            c.tick(2)
            c.tick(3)
            c.stabilize([2, 3])
            if c.raft(2).state == .leader || c.raft(3).state == .leader { return ticks }
        }
        return nil
    }

    /// The leader cut off (its node silent) while the range was quiesced: followers that
    /// forget it elect a new leader about one election timeout sooner than followers left
    /// to their own timeouts (an active range's followers have counted most of a timeout
    /// already when the detector fires; forgetting gains them little). Model:
    /// the same 64 seeded groups with and without `forgetLeader`; a split vote (both
    /// followers campaigning in the same tick) costs either variant a further timeout.
    @Test func forgettingTheLeaderShortensTheFailoverByAboutOneElectionTimeout() {
        let timeout = Self.group().raft(2).electionTimeout
        var with: [Int] = [], without: [Int] = []
        for seed in UInt64(0)..<64 {
            let a = Self.ticksToNewLeader(seed: seed, forget: true)
            let b = Self.ticksToNewLeader(seed: seed, forget: false)
            #expect(a != nil && b != nil, "seed \(seed): no new leader (forget \(String(describing: a)), not \(String(describing: b)))")
            if let a { with.append(a) }
            if let b { without.append(b) }
            if let a { #expect(a <= 3 * timeout, "seed \(seed): \(a) ticks after forgetting") }
        }
        let meanWith = Double(with.reduce(0, +)) / Double(max(with.count, 1))
        let meanWithout = Double(without.reduce(0, +)) / Double(max(without.count, 1))
        print("ForgetLeaderTests: mean ticks to a new leader \(meanWith) forgetting, \(meanWithout) not (64 seeds)")
        #expect(meanWith + 0.6 * Double(timeout) < meanWithout,
                "mean ticks to a new leader: \(meanWith) forgetting, \(meanWithout) not (timeout \(timeout))")
        #expect(with.filter { $0 <= timeout }.count * 4 >= with.count * 3,
                "most failovers within one election timeout after forgetting: \(with)")
    }

    @Test func leaderAndReturningLeaderAreUnaffected() {
        let c = Self.group()
        c.with(1) { $0.forgetLeader() }
        #expect(c.raft(1).state == .leader && c.raft(1).lead == 1, "a leader does not forget itself")
        c.with(2) { $0.forgetLeader() }
        #expect(c.raft(2).lead == 0)
        c.tick(1, c.raft(1).heartbeatTimeout)
        c.stabilize()
        #expect(c.raft(2).lead == 1 && c.raft(2).state == .follower, "hearing the leader again restores it")
    }
}
