import Base
import Testing
@testable import RaftCore

/// Rules of the Raft paper's Figure 2 and §5.3–5.4 (log replication and safety), one
/// test per rule.
@Suite struct PaperReplicationTests {
    static func leader(peers: [ReplicaID] = [1, 2, 3], log: [Entry] = [], term: UInt64 = 0) -> Raft {
        var r = newRaft(1, peers: peers, log: log, hardState: HardState(term: term))
        r.becomeCandidate()
        r.becomeLeader()
        r.persistAll()
        _ = r.readMessages()
        return r
    }

    static func ack(_ r: inout Raft, from: ReplicaID, index: UInt64) throws {
        try r.step(Message(type: .appendResponse, to: 1, from: from, term: r.term, index: index))
    }

    /// §5.3: "The leader appends the command to its log as a new entry, then issues
    /// AppendEntries RPCs in parallel to each of the other servers to replicate the entry."
    @Test func leaderStartsReplication() throws {
        var r = Self.leader()
        // Move followers to replicate state.
        try Self.ack(&r, from: 2, index: 1)
        try Self.ack(&r, from: 3, index: 1)
        r.persistAll()
        _ = r.readMessages()
        try r.step(Message(type: .propose, from: 1, entries: [Entry(term: 0, index: 0, data: [7])]))
        #expect(r.log.lastIndex == 2)
        #expect(r.log.unstable.entries.last == Entry(term: 1, index: 2, data: [7]))
        let msgs = r.readMessages()
        #expect(msgs.map(\.to) == [2, 3])
        for m in msgs {
            #expect(m.type == .append && m.index == 1 && m.logTerm == 1 && m.commit == 1)
            #expect(m.entries == [Entry(term: 1, index: 2, data: [7])])
        }
    }

    /// §5.3: "A log entry is committed once the leader that created the entry has
    /// replicated it on a majority of the servers"; the leader then includes the commit
    /// index in future AppendEntries.
    @Test func leaderCommitsEntryReplicatedOnMajority() throws {
        var r = Self.leader()
        try r.step(Message(type: .propose, from: 1, entries: [Entry(term: 0, index: 0, data: [1])]))
        r.persistAll()
        _ = r.readMessages()
        #expect(r.log.committed == 0)
        try Self.ack(&r, from: 2, index: 2)
        #expect(r.log.committed == 2)
        let msgs = r.readMessages()
        #expect(msgs.contains { $0.type == .append && $0.to == 2 && $0.commit == 2 },
                "followers learn the new commit index")
    }

    /// §5.3: commitment needs a majority of the full cluster, whatever its size.
    @Test func leaderAcknowledgesCommitOnlyWithMajority() throws {
        struct Case { var size: Int; var acceptors: [ReplicaID]; var committed: Bool }
        let cases = [
            Case(size: 1, acceptors: [], committed: true),
            Case(size: 3, acceptors: [], committed: false),
            Case(size: 3, acceptors: [2], committed: true),
            Case(size: 3, acceptors: [2, 3], committed: true),
            Case(size: 5, acceptors: [], committed: false),
            Case(size: 5, acceptors: [2], committed: false),
            Case(size: 5, acceptors: [2, 3], committed: true),
            Case(size: 5, acceptors: [2, 3, 4, 5], committed: true),
        ]
        for (i, c) in cases.enumerated() {
            var r = Self.leader(peers: (1...UInt64(c.size)).map { $0 })
            try r.step(Message(type: .propose, from: 1, entries: [Entry(term: 0, index: 0, data: [1])]))
            r.persistAll()
            for id in c.acceptors { try Self.ack(&r, from: id, index: 2) }
            #expect((r.log.committed == 2) == c.committed, "case \(i)")
        }
    }

    /// §5.3: "This also commits all preceding entries in the leader's log, including
    /// entries created by previous leaders."
    @Test func leaderCommitsPrecedingEntries() throws {
        for old in [[UInt64](), [2], [1, 1], [1, 2]] {
            var r = Self.leader(log: entries(terms: old), term: 2)
            try r.step(Message(type: .propose, from: 1, entries: [Entry(term: 0, index: 0, data: [9])]))
            r.persistAll()
            let last = r.log.lastIndex
            try Self.ack(&r, from: 2, index: last)
            #expect(r.log.committed == last, "old log \(old)")
            let committed = r.log.nextCommittedEntries()
            #expect(committed.map(\.term) == old + [3, 3], "old log \(old)")
        }
    }

    /// §5.3: "Once a follower learns that a log entry is committed, it applies the entry
    /// to its local state machine": it commits up to min(leaderCommit, last new entry).
    @Test func followerCommitsFromLeaderCommit() throws {
        struct Case { var ents: [Entry]; var commit: UInt64 }
        let cases = [
            Case(ents: [Entry(term: 1, index: 1, data: [1])], commit: 1),
            Case(ents: [Entry(term: 1, index: 1, data: [1]), Entry(term: 1, index: 2, data: [2])], commit: 2),
            Case(ents: [Entry(term: 1, index: 1, data: [1]), Entry(term: 1, index: 2, data: [2])], commit: 1),
            Case(ents: [Entry(term: 1, index: 1, data: [1])], commit: 5),
        ]
        for (i, c) in cases.enumerated() {
            var r = newRaft(1, peers: [1, 2, 3])
            r.becomeFollower(term: 1, lead: 2)
            try r.step(appendMessage(from: 2, to: 1, term: 1, logTerm: 0, index: 0, entries: c.ents, commit: c.commit))
            #expect(r.log.committed == min(c.commit, UInt64(c.ents.count)), "case \(i)")
            #expect(r.log.nextCommittedEntries() == Array(c.ents.prefix(Int(r.log.committed))), "case \(i)")
        }
    }

    /// Figure 2, AppendEntries receiver: "Reply false if log doesn't contain an entry at
    /// prevLogIndex whose term matches prevLogTerm" (the consistency check of §5.3);
    /// the rejection hints where the logs may match.
    @Test func followerRejectsAppendOnPrevMismatch() throws {
        let log = entries(terms: [1, 2])
        struct Case { var term: UInt64; var index: UInt64; var reject: Bool; var hintIndex: UInt64 }
        let cases = [
            Case(term: 0, index: 0, reject: false, hintIndex: 0),
            Case(term: 1, index: 1, reject: false, hintIndex: 0),
            Case(term: 2, index: 2, reject: false, hintIndex: 0),
            Case(term: 1, index: 2, reject: true, hintIndex: 1),  // term mismatch at 2
            Case(term: 3, index: 3, reject: true, hintIndex: 2),  // no entry at 3
        ]
        for (i, c) in cases.enumerated() {
            var r = newRaft(1, peers: [1, 2, 3], log: log, hardState: HardState(term: 2))
            r.becomeFollower(term: 2, lead: 2)
            try r.step(appendMessage(from: 2, to: 1, term: 2, logTerm: c.term, index: c.index))
            let msgs = r.readMessages()
            #expect(msgs.count == 1 && msgs[0].type == .appendResponse && msgs[0].reject == c.reject, "case \(i)")
            if c.reject { #expect(msgs[0].rejectHint == c.hintIndex, "case \(i)") }
        }
    }

    /// Figure 2, AppendEntries receiver: "If an existing entry conflicts with a new one
    /// (same index but different terms), delete the existing entry and all that follow
    /// it. Append any new entries not already in the log."
    @Test func followerAppendsAndTruncatesConflicts() throws {
        struct Case { var index: UInt64; var logTerm: UInt64; var ents: [Entry]; var want: [UInt64] }
        let cases = [
            Case(index: 2, logTerm: 2, ents: [Entry(term: 3, index: 3)], want: [1, 2, 3]),
            Case(index: 1, logTerm: 1, ents: [Entry(term: 3, index: 2), Entry(term: 4, index: 3)], want: [1, 3, 4]),
            Case(index: 0, logTerm: 0, ents: [Entry(term: 1, index: 1)], want: [1, 2]),
            Case(index: 0, logTerm: 0, ents: [Entry(term: 3, index: 1)], want: [3]),
        ]
        for (i, c) in cases.enumerated() {
            var r = newRaft(1, peers: [1, 2, 3], log: entries(terms: [1, 2]), hardState: HardState(term: 2))
            r.becomeFollower(term: 2, lead: 2)
            try r.step(appendMessage(from: 2, to: 1, term: 2, logTerm: c.logTerm, index: c.index, entries: c.ents))
            #expect(r.log.allEntries().map(\.term) == c.want, "case \(i)")
        }
    }

    /// §5.3 / Figure 7: "the leader handles inconsistencies by forcing the followers' logs
    /// to duplicate its own": whatever the follower's log, it ends equal to the leader's.
    @Test func leaderSyncsFollowerLogs() throws {
        let leaderLog: [UInt64] = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6]
        let followerLogs: [[UInt64]] = [
            [1, 1, 1, 4, 4, 5, 5, 6, 6],          // (a) missing an entry
            [1, 1, 1, 4],                          // (b) missing many
            [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],    // (c) an extra uncommitted entry
            [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], // (d) extra entries of a later term
            [1, 1, 1, 4, 4, 4, 4],                 // (e) missing and extra
            [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],    // (f) extra entries of old terms
        ]
        for (i, follower) in followerLogs.enumerated() {
            let c = Cluster()
            let cs = ConfState(voters: [1, 2, 3])
            try c.add(1, confState: cs, entries: entries(terms: leaderLog), hardState: HardState(term: 7))
            try c.add(2, confState: cs, entries: entries(terms: follower), hardState: HardState(term: 7))
            try c.add(3, confState: cs)
            c.elect(1)
            #expect(c.raft(1).state == .leader, "case \(i)")
            let leaderEntries = c.raft(1).log.allEntries()
            #expect(c.raft(2).log.allEntries() == leaderEntries, "case \(i)")
            #expect(leaderEntries.map(\.term) == leaderLog + [8], "case \(i)")
        }
    }

    /// §5.4.2 / Figure 8: "Raft never commits log entries from previous terms by counting
    /// replicas. Only log entries from the leader's current term are committed by counting
    /// replicas."
    @Test func leaderOnlyCommitsCurrentTermEntriesByCounting() throws {
        // A leader of term 3 whose log holds an uncommitted entry of term 2 at index 2.
        var r = newRaft(1, peers: [1, 2, 3], log: entries(terms: [1, 2]), hardState: HardState(term: 2, commit: 1))
        r.becomeCandidate()
        r.becomeLeader()
        r.persistAll()
        _ = r.readMessages()
        #expect(r.term == 3)
        // A majority holds index 2 (the old term's entry): not enough.
        try Self.ack(&r, from: 2, index: 2)
        #expect(r.log.committed == 1)
        // Once the leader's own empty entry (index 3, term 3) reaches a majority, both commit.
        try Self.ack(&r, from: 2, index: 3)
        #expect(r.log.committed == 3)
    }

    /// §5.4.1 (Leader Completeness) relies on "Leader Append-Only": a leader never
    /// overwrites or deletes entries in its own log, even when a follower's rejection
    /// carries entries of a higher term.
    @Test func leaderNeverOverwritesItsLog() throws {
        var r = Self.leader(log: entries(terms: [1, 1]), term: 1)
        let before = r.log.allEntries()
        try r.step(Message(type: .appendResponse, to: 1, from: 2, term: r.term, logTerm: 9, index: 3, reject: true,
                           rejectHint: 3))
        #expect(Array(r.log.allEntries().prefix(before.count)) == before)
        #expect(r.state == .leader)
    }

    /// §5.4.2 / §8: "Upon election: send initial empty AppendEntries RPCs": the new
    /// leader appends an empty entry of its term and replicates it at once.
    @Test func newLeaderAppendsAndReplicatesEmptyEntry() throws {
        var r = newRaft(1, peers: [1, 2, 3], log: entries(terms: [1, 1]), hardState: HardState(term: 1))
        try r.step(Message(type: .hup, from: 1))
        try r.step(Message(type: .requestVoteResponse, to: 1, from: 2, term: 2))
        #expect(r.state == .leader)
        #expect(r.log.unstable.entries.last == Entry(term: 2, index: 3))
        let apps = r.readMessages().filter { $0.type == .append }
        #expect(apps.map(\.to) == [2, 3])
        #expect(apps.allSatisfy { $0.entries == [Entry(term: 2, index: 3)] && $0.index == 2 && $0.logTerm == 1 })
    }

    /// Figure 2, Leaders: "If AppendEntries fails because of log inconsistency: decrement
    /// nextIndex and retry" (here in one step, using the follower's hint).
    @Test func leaderRetriesFromEarlierIndexAfterRejection() throws {
        var r = Self.leader(log: entries(terms: [1, 1, 1]), term: 1)
        // Leader of term 2 with log 1 1 1 2 probes follower 2 after index 3 (its last
        // index when elected); the follower rejects, hinting its log matches up to 1.
        let probe = r.tracker.progress[2]!.next - 1
        #expect(probe == 3)
        try r.step(Message(type: .appendResponse, to: 1, from: 2, term: r.term, logTerm: 1, index: probe,
                           reject: true, rejectHint: 1))
        let retry = r.readMessages().filter { $0.type == .append && $0.to == 2 }
        #expect(retry.count == 1)
        #expect(retry.first?.index == 1 && retry.first?.logTerm == 1, "probes again right after the hint")
        #expect(retry.first?.entries.map(\.index) == [2, 3, 4])
    }

    /// Figure 2, All servers: a response carrying a higher term also converts a
    /// candidate or leader to follower at that term.
    @Test func higherTermResponseDeposes() throws {
        var r = Self.leader()
        try r.step(Message(type: .appendResponse, to: 1, from: 2, term: r.term + 3, index: 0))
        #expect(r.state == .follower && r.term == 4 && r.lead == 0)
        var c = newRaft(1, peers: [1, 2, 3])
        try c.step(Message(type: .hup, from: 1))
        try c.step(Message(type: .requestVoteResponse, to: 1, from: 2, term: 5, reject: true))
        #expect(c.state == .follower && c.term == 5)
    }
}
