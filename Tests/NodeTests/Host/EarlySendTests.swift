import Testing
import RaftCore
@testable import Node

/// Which Raft messages the poll loop sends before the round's WAL append is durable.
@Suite struct EarlySendTests {
    @Test func onlyHeartbeatsAndTheirResponsesLeaveBeforeTheSync() {
        #expect(NodeHost.sendsBeforeSync(.heartbeat))
        #expect(NodeHost.sendsBeforeSync(.heartbeatResponse))
        // Everything that promises durable log entries or votes waits for the fsync.
        let mustWait: [MessageType] = [
            .append, .appendResponse, .requestVote, .requestVoteResponse, .requestPreVote,
            .requestPreVoteResponse, .snapshot, .readIndex, .readIndexResponse, .timeoutNow,
        ]
        for t in mustWait { #expect(!NodeHost.sendsBeforeSync(t), "\(t) must wait for the WAL sync") }
    }

    /// Of a Ready whose records are still being synced: heartbeats, and a leader's appends
    /// whose commit index does not reach the Ready's own entries, when term and vote are
    /// unchanged. Never an acknowledgement.
    @Test func heldReadyLetsOnlyHeartbeatsAndSafeAppendsLeave() {
        let rule = NodeHost.EarlyRule(changesTermOrVote: false, firstNewIndex: 10)
        #expect(NodeHost.leavesBeforeSync(Message(type: .heartbeat, commit: 12), rule: rule))
        #expect(NodeHost.leavesBeforeSync(Message(type: .append, index: 9, commit: 9), rule: rule))
        // The commit it carries counts the leader's own, not yet durable, entries.
        #expect(!NodeHost.leavesBeforeSync(Message(type: .append, index: 9, commit: 10), rule: rule))
        let noEntries = NodeHost.EarlyRule(changesTermOrVote: false, firstNewIndex: nil)
        #expect(NodeHost.leavesBeforeSync(Message(type: .append, index: 9, commit: 9), rule: noEntries))
        // A new term or vote is not durable yet: nothing of that term leaves but heartbeats.
        let newTerm = NodeHost.EarlyRule(changesTermOrVote: true, firstNewIndex: 10)
        #expect(!NodeHost.leavesBeforeSync(Message(type: .append, index: 9, commit: 5), rule: newTerm))
        for t in [MessageType.appendResponse, .requestVote, .requestVoteResponse, .requestPreVote,
                  .requestPreVoteResponse, .snapshot, .readIndex, .readIndexResponse, .timeoutNow] {
            #expect(!NodeHost.leavesBeforeSync(Message(type: t, commit: 0), rule: noEntries), "\(t) must wait for the WAL sync")
        }
    }
}
