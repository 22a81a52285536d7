import API
import Base
import Foundation
import MVCC
import Node
@testable import Router
import Testing

extension NodeClusterAccessTests {
    /// Finding 7 residue on three real NodeHosts: a router not on the system range leader's
    /// node begins a revoke and "dies" after the first sweep. In between, every other router
    /// answers "gone" (KeepAlive TTL 0, TimeToLive -1, Put "requested lease not found",
    /// Leases without it, Grant of its ID "lease already exists"); the expiry loop of the
    /// system range leader's node then finishes the revoke (the record goes, the ID is free).
    @Test func revokeWhoseRouterDiedAfterTheFirstSweepIsFinishedByTheExpiryLoop() async throws {
        let c = try AccessCluster(ranges: 2)
        defer { c.shutdown() }
        let ranges = c.bootstrap.descriptors
        #expect(await c.everyRangeHasALeader())
        let systemLeader = try #require(c.leader(of: .system))
        let dyingNode = c.hosts.keys.sorted().first { $0 != systemLeader }!
        var config = Router.Config()
        config.leaseExpiryInterval = .milliseconds(100)
        let dying = Router(access: c.access[dyingNode]!, config: config)
        var routers: [NodeID: Router] = [:]
        for n in c.hosts.keys where n != dyingNode {
            var own = config
            own.requestIDSeed = n.rawValue << 40
            routers[n] = Router(access: c.access[n]!, config: own)
        }
        let observer = routers[systemLeader]!

        let lease = try await dying.leaseGrant(id: 0, ttl: 60)
        let keys = ranges.map { ($0.startKey.isEmpty ? [0x01] : $0.startKey) + Array("residue".utf8) }
        for k in keys { _ = try await dying.put(PutRequest(key: k, value: [1], lease: lease.id)) }
        #expect(try await observer.leaseTimeToLive(id: lease.id, keys: true).keys.count == keys.count)

        // The dying router's revoke: the mark and the first sweep, then nothing more.
        let record = try #require(try await c.access[dyingNode]!.leaseBeginRevoke(id: lease.id))
        #expect(record.grantRevision > 0)
        _ = try await dying.revokeAttachedKeys(LeaseGrant(lease: lease.id, grantRevision: record.grantRevision))
        dying.stopLateLeaseRechecks()

        for (n, router) in routers {
            #expect(try await router.leaseKeepAlive(id: lease.id).ttl == 0, "keep-alive through node \(n)")
            #expect(try await router.leaseTimeToLive(id: lease.id, keys: false).ttl == -1, "TTL through node \(n)")
            #expect(try await !router.leases().ids.contains(lease.id), "list through node \(n)")
            await #expect(throws: EtcdError.leaseNotFound, "put through node \(n)") {
                try await router.put(PutRequest(key: keys[0], value: [2], lease: lease.id))
            }
            await #expect(throws: EtcdError.leaseExists, "grant through node \(n)") {
                try await router.leaseGrant(id: lease.id, ttl: 5)
            }
        }
        #expect(try await observer.range(RangeRequest(key: [0], rangeEnd: [0], countOnly: true)).count == 0)

        // The expiry loops (running on every surviving node; only the system range leader's
        // reports anything) finish it: the record goes and the ID can be granted again.
        let loops = routers.values.map { $0.startLeaseExpiry() }
        defer { for l in loops { l.cancel() } }
        var regranted: LeaseRecord?
        let deadline = Date().addingTimeInterval(20)  // hang bound, not a speed test
        while regranted == nil, Date() < deadline {
            try await Task.sleep(for: .milliseconds(100))
            regranted = try? await c.access[systemLeader]!.leaseGrant(id: lease.id, ttl: 5)
        }
        let again = try #require(regranted, "the revoke left by the dead router was never finished")
        #expect(again.grantRevision > record.grantRevision)
        #expect(try await observer.range(RangeRequest(key: [0], rangeEnd: [0], countOnly: true)).count == 0)
    }
}
