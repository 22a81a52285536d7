import Base
import Testing
@testable import RaftCore

@Suite struct ClusterSmokeTests {
    @Test func electAndReplicate() throws {
        let c = Cluster([1, 2, 3])
        c.elect(1)
        #expect(c.raft(1).state == .leader)
        #expect(c.raft(2).lead == 1 && c.raft(3).lead == 1)
        try c.propose(1, "a")
        try c.propose(2, "b")  // forwarded
        c.stabilize()
        for id in c.ids {
            #expect(c.appliedStrings(id) == ["a", "b"], "replica \(id)")
            #expect(c.raft(id).log.committed == 3)
        }
    }
}
