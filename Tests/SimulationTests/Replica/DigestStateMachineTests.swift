import Base
import RaftCore
import Simulation
import Testing

@Suite("Digest state machine")
struct DigestStateMachineTests {
    @Test func snapshotRoundTrip() {
        var m = DigestStateMachine(bootstrapIndex: 1, confState: ConfState(voters: [1, 2, 3]))
        m.apply(Entry(term: 1, index: 2, data: Workload.payload(id: 9, fillerBytes: 4)))
        m.apply(Entry(term: 1, index: 3))
        let snap = Snapshot(metadata: SnapshotMetadata(confState: m.confState, index: 3, term: 1), data: m.snapshotData)
        #expect(DigestStateMachine(snapshot: snap) == m)
        #expect(m.appliedProposals == 1)
        var wrongIndex = snap
        wrongIndex.metadata.index = 4
        #expect(DigestStateMachine(snapshot: wrongIndex) == nil)
    }

    @Test func digestDependsOnEveryEntry() {
        let base = DigestStateMachine(bootstrapIndex: 1, confState: ConfState(voters: [1]))
        var a = base, b = base, c = base
        a.apply(Entry(term: 1, index: 2, data: [1, 2]))
        b.apply(Entry(term: 1, index: 2, data: [1, 3]))
        c.apply(Entry(term: 2, index: 2, data: [1, 2]))
        #expect(a.digest != b.digest && a.digest != c.digest && b.digest != c.digest)
    }

    @Test func payloadCarriesProposalID() {
        #expect(Workload.proposalID(Workload.payload(id: 0xDEAD_BEEF_0102, fillerBytes: 20)) == 0xDEAD_BEEF_0102)
        #expect(Workload.proposalID([]) == nil)
    }
}
