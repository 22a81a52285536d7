import Base
import Server
import Testing

@testable import flotctl

@Suite struct TransferLeaderTests {
    static func info(_ id: UInt64, leader: UInt64, isLeader: Bool) -> AdminProtocol.RangeInfo {
        RangeListTests.info(id, [], nil, leader: leader, isLeader: isLeader, keys: 0)
    }

    @Test func sendsToTheEndpointWhoseNodeLeads() throws {
        // Endpoint 0 is node 1 (follower of range 2), endpoint 1 did not answer, endpoint 2 leads.
        let reports: [[AdminProtocol.RangeInfo]?] = [
            [Self.info(2, leader: 3, isLeader: false), Self.info(5, leader: 1, isLeader: true)],
            nil,
            [Self.info(2, leader: 3, isLeader: true)],
        ]
        let plan = try TransferLeaderCommand.plan(reports, range: RangeID(2), to: NodeID(1))
        #expect(plan == .init(endpoint: 2, from: NodeID(3), alreadyDone: false))
        #expect(TransferLeaderCommand.leaderNow(reports, range: RangeID(2)) == NodeID(3))
        #expect(TransferLeaderCommand.leaderNow(reports, range: RangeID(5)) == NodeID(1))
        #expect(TransferLeaderCommand.leaderNow(reports, range: RangeID(9)) == nil)
        #expect(try TransferLeaderCommand.plan(reports, range: RangeID(2), to: NodeID(3)).alreadyDone)
    }

    @Test func refusesUnknownRangesNonReplicasAndLeaderlessRanges() {
        let reports: [[AdminProtocol.RangeInfo]?] = [[Self.info(2, leader: 0, isLeader: false)]]
        #expect(throws: CLIError.self) { try TransferLeaderCommand.plan(reports, range: RangeID(7), to: NodeID(1)) }
        #expect(throws: CLIError.self) { try TransferLeaderCommand.plan(reports, range: RangeID(2), to: NodeID(4)) }
        #expect(throws: CLIError.self) { try TransferLeaderCommand.plan(reports, range: RangeID(2), to: NodeID(1)) }
    }
}
