import Base
import Testing
@testable import RaftCore

@Suite struct ChangerTests {
    static func changer(_ cs: ConfState) -> Changer {
        var tracker = ProgressTracker(maxInflight: 4)
        let restored = try! Changer.restore(cs, maxInflight: 4, lastIndex: 10)
        tracker.config = restored.config
        tracker.progress = restored.progress
        return Changer(tracker: tracker, lastIndex: 10)
    }

    static func cs(_ r: Changer.Result) -> ConfState { r.config.confState }

    @Test func simpleAddRemoveOneVoter() throws {
        let c = Self.changer(ConfState(voters: [1, 2, 3]))
        #expect(Self.cs(try c.simple([ConfChangeSingle(.addNode, 4)])).voters == [1, 2, 3, 4])
        #expect(Self.cs(try c.simple([ConfChangeSingle(.removeNode, 2)])).voters == [1, 3])
        // adding a learner and a voter at once changes only one voter: allowed
        let r = try c.simple([ConfChangeSingle(.addNode, 4), ConfChangeSingle(.addLearnerNode, 5)])
        #expect(Self.cs(r).learners == [5])
        #expect(r.progress[5]?.isLearner == true)
    }

    @Test func simpleRejectsTwoVoterChanges() {
        let c = Self.changer(ConfState(voters: [1, 2, 3]))
        #expect(throws: RaftError.self) { try c.simple([ConfChangeSingle(.addNode, 4), ConfChangeSingle(.addNode, 5)]) }
        #expect(throws: RaftError.self) {
            try c.simple([ConfChangeSingle(.removeNode, 1), ConfChangeSingle(.addNode, 4)])
        }
    }

    @Test func rejectsRemovingAllVoters() {
        let c = Self.changer(ConfState(voters: [1]))
        #expect(throws: RaftError.invalidConfChange("removed all voters")) {
            try c.simple([ConfChangeSingle(.removeNode, 1)])
        }
    }

    @Test func enterAndLeaveJoint() throws {
        let c = Self.changer(ConfState(voters: [1, 2, 3]))
        let joint = try c.enterJoint(autoLeave: true, [ConfChangeSingle(.removeNode, 3), ConfChangeSingle(.addNode, 4),
                                                       ConfChangeSingle(.addLearnerNode, 3)])
        let cs = Self.cs(joint)
        #expect(cs.voters == [1, 2, 4])
        #expect(cs.votersOutgoing == [1, 2, 3])
        #expect(cs.learnersNext == [3], "an outgoing voter becomes a learner only after leaving")
        #expect(cs.learners == [])
        #expect(cs.autoLeave)

        var next = c
        next.config = joint.config
        next.progress = joint.progress
        #expect(throws: RaftError.self) { try next.enterJoint(autoLeave: false, []) }
        #expect(throws: RaftError.self) { try next.simple([ConfChangeSingle(.addNode, 5)]) }
        let left = try next.leaveJoint()
        let leftCS = Self.cs(left)
        #expect(leftCS.voters == [1, 2, 4] && leftCS.votersOutgoing.isEmpty)
        #expect(leftCS.learners == [3] && leftCS.learnersNext.isEmpty && !leftCS.autoLeave)
        #expect(left.progress[3]?.isLearner == true)
    }

    @Test func leaveJointDropsRemovedReplicas() throws {
        let c = Self.changer(ConfState(voters: [1, 2, 3]))
        let joint = try c.enterJoint(autoLeave: false, [ConfChangeSingle(.removeNode, 3)])
        #expect(joint.progress.contains(3), "still an outgoing voter")
        var next = c
        next.config = joint.config
        next.progress = joint.progress
        let left = try next.leaveJoint()
        #expect(!left.progress.contains(3))
    }

    @Test func leaveNonJointFails() {
        let c = Self.changer(ConfState(voters: [1, 2, 3]))
        #expect(throws: RaftError.self) { try c.leaveJoint() }
    }

    @Test func cannotEnterJointFromEmptyConfig() {
        let c = Self.changer(ConfState())
        #expect(throws: RaftError.self) { try c.enterJoint(autoLeave: true, [ConfChangeSingle(.addNode, 1)]) }
    }

    @Test func learnerPromotionAndDemotion() throws {
        let c = Self.changer(ConfState(voters: [1, 2], learners: [3]))
        let promoted = try c.simple([ConfChangeSingle(.addNode, 3)])
        #expect(Self.cs(promoted).voters == [1, 2, 3] && Self.cs(promoted).learners.isEmpty)
        #expect(promoted.progress[3]?.isLearner == false)
        // demoting a voter directly (not joint) makes it a learner at once
        let demoted = try c.simple([ConfChangeSingle(.addLearnerNode, 2)])
        #expect(Self.cs(demoted).voters == [1] && Self.cs(demoted).learners == [2, 3])
    }

    @Test func confChangeTransitions() {
        #expect(ConfChange(changes: [ConfChangeSingle(.addNode, 1)]).enterJointAutoLeave == nil)
        #expect(ConfChange(changes: [ConfChangeSingle(.addNode, 1), ConfChangeSingle(.addNode, 2)]).enterJointAutoLeave == true)
        #expect(ConfChange(transition: .jointImplicit, changes: [ConfChangeSingle(.addNode, 1)]).enterJointAutoLeave == true)
        #expect(ConfChange(transition: .jointExplicit, changes: [ConfChangeSingle(.addNode, 1)]).enterJointAutoLeave == false)
    }

    @Test func codecRoundTrip() throws {
        let cc = ConfChange(transition: .jointExplicit,
                            changes: [ConfChangeSingle(.addNode, 1), ConfChangeSingle(.removeNode, UInt64.max),
                                      ConfChangeSingle(.addLearnerNode, 300)],
                            context: [1, 2, 3])
        #expect(try ConfChange(decoding: cc.encoded()) == cc)
        #expect(try ConfChange(decoding: ConfChange(changes: []).encoded()).isLeaveJoint)
        #expect(throws: RaftError.self) { try ConfChange(decoding: [0, 5, 0]) }
        #expect(throws: RaftError.self) { try ConfChange(decoding: [0, 1, 0, 0, 0, 9]) }
    }
}
