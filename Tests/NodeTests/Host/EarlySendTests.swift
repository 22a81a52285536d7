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
}
