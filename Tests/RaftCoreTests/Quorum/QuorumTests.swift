import Base
import Testing
@testable import RaftCore

@Suite struct QuorumTests {
    static func majority(_ ids: [ReplicaID]) -> MajorityConfig { MajorityConfig(IDSet(ids)) }

    @Test func majorityCommittedIndex() {
        struct Case { var voters: [ReplicaID]; var acked: [ReplicaID: UInt64]; var want: UInt64 }
        let cases = [
            Case(voters: [], acked: [:], want: .max),
            Case(voters: [1], acked: [1: 5], want: 5),
            Case(voters: [1], acked: [:], want: 0),
            Case(voters: [1, 2], acked: [1: 5, 2: 3], want: 3),
            Case(voters: [1, 2, 3], acked: [1: 5, 2: 3, 3: 1], want: 3),
            Case(voters: [1, 2, 3], acked: [1: 5, 2: 5], want: 5),
            Case(voters: [1, 2, 3], acked: [1: 5], want: 0),
            Case(voters: [1, 2, 3, 4], acked: [1: 9, 2: 8, 3: 7, 4: 6], want: 8 - 1),
            Case(voters: [1, 2, 3, 4, 5], acked: [1: 9, 2: 8, 3: 7, 4: 6, 5: 5], want: 7),
            // non-voters' acknowledgements do not count
            Case(voters: [1, 2, 3], acked: [1: 9, 7: 9, 8: 9], want: 0),
        ]
        for (i, c) in cases.enumerated() {
            #expect(Self.majority(c.voters).committedIndex { c.acked[$0] } == c.want, "case \(i)")
        }
    }

    @Test func majorityVoteResult() {
        struct Case { var voters: [ReplicaID]; var votes: [ReplicaID: Bool]; var want: VoteResult }
        let cases = [
            Case(voters: [], votes: [:], want: .won),
            Case(voters: [1], votes: [:], want: .pending),
            Case(voters: [1], votes: [1: true], want: .won),
            Case(voters: [1], votes: [1: false], want: .lost),
            Case(voters: [1, 2], votes: [1: true], want: .pending),
            Case(voters: [1, 2], votes: [1: true, 2: false], want: .lost),
            Case(voters: [1, 2, 3], votes: [1: true, 2: true], want: .won),
            Case(voters: [1, 2, 3], votes: [1: true, 2: false], want: .pending),
            Case(voters: [1, 2, 3], votes: [1: false, 2: false], want: .lost),
            Case(voters: [1, 2, 3, 4, 5], votes: [1: true, 2: true, 3: false, 4: false], want: .pending),
            Case(voters: [1, 2, 3, 4, 5], votes: [1: true, 2: false, 3: false, 4: false], want: .lost),
        ]
        for (i, c) in cases.enumerated() {
            #expect(Self.majority(c.voters).voteResult { c.votes[$0] } == c.want, "case \(i)")
        }
    }

    @Test func jointCommittedIndexIsMinimumOfBothHalves() {
        let joint = JointConfig(incoming: Self.majority([1, 2, 3]), outgoing: Self.majority([3, 4, 5]))
        let acked: [ReplicaID: UInt64] = [1: 10, 2: 10, 3: 6, 4: 4, 5: 2]
        // incoming quorum: 10, outgoing quorum: 4
        #expect(joint.committedIndex { acked[$0] } == 4)
        let nonJoint = JointConfig(incoming: Self.majority([1, 2, 3]))
        #expect(nonJoint.committedIndex { acked[$0] } == 10)
        #expect(JointConfig().committedIndex { acked[$0] } == .max)
    }

    @Test func jointVoteResultNeedsBothHalves() {
        let joint = JointConfig(incoming: Self.majority([1, 2, 3]), outgoing: Self.majority([3, 4, 5]))
        #expect(joint.voteResult { [1: true, 2: true][$0] } == .pending)
        #expect(joint.voteResult { [1: true, 2: true, 3: true, 4: true][$0] } == .won)
        #expect(joint.voteResult { [1: true, 2: true, 4: false, 5: false][$0] } == .lost)
        #expect(joint.voteResult { [1: false, 2: false, 4: true, 5: true][$0] } == .lost)
        #expect(joint.voteResult { [3: true][$0] } == .pending)
    }

    @Test func idSetStaysSortedAndUnique() {
        var s: IDSet = [5, 1, 3, 1]
        #expect(s.ids == [1, 3, 5])
        s.insert(2)
        s.remove(3)
        s.insert(5)
        #expect(s.ids == [1, 2, 5])
        #expect(s.union([0, 9]).ids == [0, 1, 2, 5, 9])
    }
}
