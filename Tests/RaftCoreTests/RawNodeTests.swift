import Base
import Testing
@testable import RaftCore

@Suite struct RawNodeTests {
    @Test func rejectsInvalidConfigs() {
        let s = MemoryStorage(voters: [1])
        func make(_ f: (inout RaftConfig) -> Void) throws(RaftError) {
            var c = RaftConfig(id: 1)
            f(&c)
            _ = try RawNode(config: c, storage: s)
        }
        #expect(throws: RaftError.self) { try make { $0.id = 0 } }
        #expect(throws: RaftError.self) { try make { $0.heartbeatTicks = 0 } }
        #expect(throws: RaftError.self) { try make { $0.electionTicks = 1 } }
        #expect(throws: RaftError.self) { try make { $0.maxInflightMsgs = 0 } }
        #expect(throws: RaftError.invalidConfig("readOnlyOption .leaseBased requires checkQuorum")) {
            try make { $0.readOnlyOption = .leaseBased; $0.checkQuorum = false }
        }
        #expect(throws: Never.self) { try make { $0.readOnlyOption = .leaseBased; $0.checkQuorum = true } }
    }

    @Test func restartRestoresHardStateAndApplied() throws {
        let s = MemoryStorage(voters: [1, 2])
        s.append(entries(terms: [1, 1, 2]))
        s.setHardState(HardState(term: 2, vote: 1, commit: 3))
        var node = try RawNode(config: RaftConfig(id: 1, applied: 2), storage: s)
        #expect(node.status.hardState == HardState(term: 2, vote: 1, commit: 3))
        #expect(node.status.applied == 2)
        #expect(node.status.softState.role == .follower)
        let rd = node.ready()
        #expect(rd.committedEntries.map(\.index) == [3], "only the unapplied committed entry")
        #expect(rd.hardState == nil, "unchanged hard state is not re-emitted")
        node.advance(rd)
        #expect(!node.hasReady())
        #expect(node.status.applied == 3)
    }

    @Test func rejectsCommitBeyondLog() {
        let s = MemoryStorage(voters: [1])
        s.setHardState(HardState(term: 1, vote: 0, commit: 5))
        #expect(throws: RaftError.self) { _ = try RawNode(config: RaftConfig(id: 1), storage: s) }
    }

    @Test func singleNodeReadyCycle() throws {
        let s = MemoryStorage(voters: [1])
        var node = try RawNode(config: RaftConfig(id: 1), storage: s)
        try node.campaign()
        var rd = node.ready()
        #expect(rd.softState == SoftState(leader: 1, role: .leader))
        #expect(rd.hardState?.term == 1 && rd.hardState?.vote == 1)
        #expect(rd.entries.map(\.index) == [1])
        #expect(rd.committedEntries.map(\.index) == [1], "a single voter commits at once")
        #expect(rd.mustSync)
        s.setHardState(rd.hardState!)
        s.append(rd.entries)
        node.advance(rd)
        #expect(!node.hasReady())

        try node.propose([42])
        #expect(node.hasReady())
        rd = node.ready()
        #expect(rd.entries == [Entry(term: 1, index: 2, data: [42])])
        #expect(rd.committedEntries == [Entry(term: 1, index: 2, data: [42])])
        #expect(rd.softState == nil)
        s.append(rd.entries)
        node.advance(rd)
        #expect(!node.hasReady())
        #expect(node.status.applied == 2 && node.status.lastIndex == 2)
        #expect(node.status.progress == [1: 2])

        // A commit-only change does not require a sync.
        node.readIndex(context: [1])
        rd = node.ready()
        #expect(rd.readStates == [ReadState(index: 2, context: [1])])
        #expect(!rd.mustSync)
        node.advance(rd)
    }

    @Test func stepRejectsLocalAndMisaddressedMessages() throws {
        var node = try RawNode(config: RaftConfig(id: 1), storage: MemoryStorage(voters: [1, 2]))
        #expect(throws: RaftError.self) { try node.step(Message(type: .hup, to: 1, from: 2)) }
        #expect(throws: RaftError.self) { try node.step(Message(type: .heartbeat, to: 3, from: 2, term: 1)) }
        // a response from a non-member is dropped silently
        try node.step(Message(type: .appendResponse, to: 1, from: 9, term: 5))
        #expect(node.status.hardState.term == 0)
    }

    @Test func confChangeRoundTripThroughLog() throws {
        let s = MemoryStorage(voters: [1])
        var node = try RawNode(config: RaftConfig(id: 1), storage: s)
        try node.campaign()
        var rd = node.ready()
        s.append(rd.entries)
        node.advance(rd)
        try node.proposeConfChange(ConfChange(changes: [ConfChangeSingle(.addLearnerNode, 2)]))
        #expect(throws: RaftError.confChangePending) {
            try node.proposeConfChange(ConfChange(changes: [ConfChangeSingle(.addNode, 3)]))
        }
        rd = node.ready()
        s.append(rd.entries)
        let cc = rd.committedEntries.first { $0.type == .confChange }!
        let cs = node.applyConfChange(try ConfChange(decoding: cc.data))
        #expect(cs.voters == [1] && cs.learners == [2])
        node.advance(rd)
        // applied: the next change is accepted
        try node.proposeConfChange(ConfChange(changes: [ConfChangeSingle(.addNode, 2)]))
        // invalid changes are refused when proposed
        rd = node.ready()
        s.append(rd.entries)
        for e in rd.committedEntries where e.type == .confChange {
            _ = node.applyConfChange(try ConfChange(decoding: e.data))
        }
        node.advance(rd)
        #expect(throws: RaftError.self) {
            try node.proposeConfChange(ConfChange(changes: [ConfChangeSingle(.removeNode, 1), ConfChangeSingle(.removeNode, 2)]))
        }
    }

    @Test func committedEntriesAreSplitByMaxCommittedSizePerReady() throws {
        let s = MemoryStorage(voters: [1])
        s.append((1...6).map { Entry(term: 1, index: UInt64($0), data: [UInt8](repeating: 1, count: 10)) })
        s.setHardState(HardState(term: 1, vote: 1, commit: 6))
        var node = try RawNode(config: RaftConfig(id: 1, maxCommittedSizePerReady: 25), storage: s)
        var batches: [[UInt64]] = []
        while node.hasReady() {
            let rd = node.ready()
            if !rd.committedEntries.isEmpty { batches.append(rd.committedEntries.map(\.index)) }
            node.advance(rd)
        }
        #expect(batches == [[1, 2], [3, 4], [5, 6]])
        #expect(node.status.applied == 6)
    }
}
