import Foundation
import Testing

@testable import Robustness

/// The Flotilla transfer-leader fault: `flotctl range list -w json` parsed, and the moves
/// planned (every range of the busiest node, spread over its other replicas).
@Suite struct TransferPlanTests {
    static let listing = """
        [{"id":1,"start":"","end":null,"replicas":[1,2,3],"leader":2,"size":0,"keys":0},
         {"id":2,"start":"","end":"QQ==","replicas":[1,2,3],"leader":2,"size":10,"keys":1},
         {"id":3,"start":"QQ==","end":"Qg==","replicas":[1,2,3],"leader":1,"size":0,"keys":0},
         {"id":4,"start":"Qg==","end":null,"replicas":[1,2,3],"leader":2,"size":0,"keys":0},
         {"id":5,"start":"Qw==","end":null,"replicas":[2,3],"leader":0,"size":0,"keys":0}]
        """

    @Test func parsesFlotctlJSON() throws {
        let ranges = try FlotillaCluster.parseRanges(Self.listing)
        #expect(ranges.count == 5)
        #expect(ranges[0] == .init(id: 1, replicas: [1, 2, 3], leader: 2))
        #expect(ranges[4] == .init(id: 5, replicas: [2, 3], leader: 0))
    }

    @Test func movesEveryRangeOfTheBusiestNodeToItsOtherReplicasInTurn() throws {
        let moves = FlotillaCluster.planMoves(try FlotillaCluster.parseRanges(Self.listing))
        #expect(moves.map(\.range) == [1, 2, 4])
        #expect(moves.allSatisfy { $0.from == 2 })
        #expect(moves.map(\.to) == [1, 3, 1])
        let shifted = FlotillaCluster.planMoves(try FlotillaCluster.parseRanges(Self.listing), pick: 1)
        #expect(shifted.map(\.to) == [3, 1, 3])
    }

    @Test func tiesGoToTheLowestNodeAndUnknownLeadersAreSkipped() throws {
        let ranges: [FlotillaCluster.RangeLeadership] = [
            .init(id: 7, replicas: [1, 2, 3], leader: 3), .init(id: 8, replicas: [1, 2, 3], leader: 1),
            .init(id: 9, replicas: [1, 2, 3], leader: 0),
        ]
        let moves = FlotillaCluster.planMoves(ranges)
        #expect(moves.map(\.range) == [8])
        #expect(moves.first?.to == 2)
        #expect(FlotillaCluster.planMoves([]).isEmpty)
    }

    @Test func refusesOutputThatIsNotAnArray() {
        #expect(throws: (any Error).self) { try FlotillaCluster.parseRanges("{\"error\":1}") }
    }
}
