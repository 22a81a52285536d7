import Base
import Server
import Testing

@testable import flotctl

@Suite struct RangeListTests {
    static func info(_ id: UInt64, _ start: [UInt8], _ end: [UInt8]?, leader: UInt64, isLeader: Bool, keys: UInt64)
        -> AdminProtocol.RangeInfo
    {
        AdminProtocol.RangeInfo(
            rangeID: RangeID(id), startKey: start, endKey: end, replicas: [NodeID(1), NodeID(2), NodeID(3)],
            leader: NodeID(leader), isLeader: isLeader, appliedIndex: 7, liveKeys: keys, liveBytes: keys * 100)
    }

    @Test func rangesCodecRoundTrips() throws {
        let ranges = [Self.info(2, [], [0x40], leader: 1, isLeader: true, keys: 3),
                      Self.info(3, [0x40], nil, leader: 0, isLeader: false, keys: 0)]
        #expect(try AdminProtocol.decodeRanges(AdminProtocol.encode(ranges: ranges)) == ranges)
        #expect(throws: (any Error).self) { try AdminProtocol.decodeRanges([1, 2, 3]) }
    }

    @Test func leaderReportWinsAndRowsSortByStart() {
        let follower = Self.info(3, [0x80], nil, leader: 2, isLeader: false, keys: 5)
        let leader = Self.info(3, [0x80], nil, leader: 2, isLeader: true, keys: 6)
        let first = Self.info(2, [], [0x80], leader: 1, isLeader: false, keys: 1)
        let merged = RangeCommand.List.merge([[follower, first], [leader]])
        #expect(merged.map(\.rangeID) == [RangeID(2), RangeID(3)])
        #expect(merged[1].liveKeys == 6)
        #expect(RangeCommand.List.render(merged, .simple) == "2, (start), 0x80, 1,2,3, 1, 100 B, 1\n3, 0x80, (end), 1,2,3, 2, 600 B, 6\n")
        #expect(RangeCommand.List.display(Array("user/a".utf8), isEnd: false) == "user/a")
    }
}
