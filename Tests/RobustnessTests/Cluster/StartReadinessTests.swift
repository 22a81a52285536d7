import Testing

@testable import Robustness

/// The start-up gate of a Flotilla cluster under test: traffic starts only once every range
/// replica on every node names a leader in the node's /status.
@Suite struct StartReadinessTests {
    @Test func allLedStatusHasNothingPending() {
        let body = """
            {"node":1,"leaderCount":2,"rangeCount":3,"quiescedCount":0,"walDiskBytes":0,"peers":[],
             "ranges":[{"rangeID":1,"leader":1,"isLeader":true,"quiesced":false,"appliedIndex":4},
                       {"rangeID":2,"leader":3,"isLeader":false,"quiesced":false,"appliedIndex":2}]}
            """
        #expect(FlotillaCluster.leaderlessRanges(status: body, node: 1).isEmpty)
    }

    @Test func leaderlessRangesAreNamed() {
        let body = """
            HTTP/1.0 200 OK\r\n\r\n{"node":2,"ranges":[{"rangeID":1,"leader":1},{"rangeID":7,"leader":0},{"rangeID":9,"leader":0}]}
            """
        #expect(FlotillaCluster.leaderlessRanges(status: body, node: 2) == ["node 2 range 7", "node 2 range 9"])
    }

    @Test func missingOrGarbledStatusCountsAsNotReady() {
        #expect(FlotillaCluster.leaderlessRanges(status: nil, node: 3) == ["node 3: no status"])
        #expect(FlotillaCluster.leaderlessRanges(status: "{\"node\":3", node: 3) == ["node 3: no status"])
    }
}
