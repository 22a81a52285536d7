import Base
import Node
import Router
import Testing

/// etcd's key-range conventions and the cache's planning.
@Suite struct KeySpanTests {
    @Test func etcdConventions() {
        #expect(KeySpan(key: [5], rangeEnd: []) == KeySpan(start: [5], end: [5, 0]))
        #expect(KeySpan(key: [5], rangeEnd: [0]) == KeySpan(start: [5], end: nil))
        #expect(KeySpan(key: [5], rangeEnd: [4]).isEmpty)
        #expect(KeySpan(key: [5], rangeEnd: [5]).isEmpty)
        #expect(!KeySpan(key: [5], rangeEnd: [6]).isEmpty)
    }

    @Test func planSplitsASpanOverRanges() {
        func route(_ id: UInt64, _ s: [UInt8], _ e: [UInt8]?) -> RangeRoute {
            RangeRoute(descriptor: RangeDescriptor(rangeID: RangeID(id), startKey: s, endKey: e, replicas: []), leaderHint: .none)
        }
        let cache = RouteCache([route(3, [10], [20]), route(2, [], [10]), route(4, [20], nil)])
        let parts = cache.plan(KeySpan(start: [5], end: [25]))!
        #expect(parts.map(\.route.descriptor.rangeID.rawValue) == [2, 3, 4])
        #expect(parts.map(\.span) == [KeySpan(start: [5], end: [10]), KeySpan(start: [10], end: [20]), KeySpan(start: [20], end: [25])])
        #expect(cache.plan(KeySpan(start: [7], end: [3]))!.map(\.route.descriptor.rangeID.rawValue) == [2])
        #expect(cache.plan(KeySpan(start: [30], end: nil))!.map(\.span) == [KeySpan(start: [30], end: nil)])
        let gap = RouteCache([route(2, [], [10]), route(4, [20], nil)])
        #expect(gap.plan(KeySpan(start: [5], end: [25]))?.count == nil)
        var newer = cache
        var d = RangeDescriptor(rangeID: RangeID(3), startKey: [10], endKey: [15], replicas: [])
        d.epoch.version = 2
        newer.install(RangeRoute(descriptor: d, leaderHint: .none))
        #expect(newer.plan(KeySpan(start: [5], end: [25]))?.count == nil)  // [15, 20) unknown until refreshed
    }
}
