import API
import Base
import Foundation
import MVCC
import Node
@testable import Router
import Testing

/// Three NodeHosts over a `LocalNetwork` (node calls included), one `NodeClusterAccess`
/// per node. Test helper; stopped with `shutdown()`.
final class AccessCluster: @unchecked Sendable {
    // @unchecked Sendable: built once in init, then only read; tests drive it from one task.
    let root = NSTemporaryDirectory() + "flotilla-access-\(UUID().uuidString)"
    let network = LocalNetwork(seed: 3)
    let bootstrap: BootstrapConfig
    var hosts: [NodeID: NodeHost] = [:]
    var access: [NodeID: NodeClusterAccess] = [:]
    let members: [NodeRecord]

    init(ranges: Int = 2, callTimeoutMs: Int = 5_000, tune: (inout NodeConfig) -> Void = { _ in }) throws {
        let nodes = (1...3).map { NodeID(UInt64($0)) }
        bootstrap = BootstrapConfig(nodes: nodes, rangeCount: ranges)
        members = nodes.map { NodeRecord(nodeID: $0, name: "n\($0.rawValue)", clientURLs: ["http://127.0.0.1:\(2378 + Int($0.rawValue))"],
                                         peerURLs: ["http://127.0.0.1:\(2478 + Int($0.rawValue))"]) }
        var settings = NodeClusterAccess.Settings()
        settings.leaseLeaderSearchMs = 200
        settings.callTimeoutMs = callTimeoutMs
        for n in nodes {
            var c = NodeConfig(nodeID: n, dataDirectory: root + "/n\(n.rawValue)")
            c.tickIntervalMs = 50
            c.electionTicks = 10
            c.applyCommitIntervalMs = 20
            c.proposalTimeoutMs = 3_000
            tune(&c)
            let host = try NodeHost(config: c, transport: network.transport(for: n), bootstrap: bootstrap)
            host.callTransport = network.transport(for: n)
            network.register(n, host)
            hosts[n] = host
            access[n] = NodeClusterAccess(host: host, transport: network.transport(for: n), members: members,
                                          settings: settings)
        }
        for h in hosts.values { h.start() }
    }

    func leader(of range: RangeID) -> NodeID? {
        let l = hosts.filter { $0.value.isLeader(of: range) }.map(\.key)
        return l.count == 1 ? l[0] : nil
    }

    /// Waits until the system range and every user range of the bootstrap have one leader each.
    func everyRangeHasALeader(within seconds: Double = 30) async -> Bool {
        let ranges = bootstrap.descriptors.map(\.rangeID) + [.system]
        return await eventually(seconds) { ranges.allSatisfy { leader(of: $0) != nil } }
    }

    func eventually(_ seconds: Double = 30, _ condition: () -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    func shutdown() {
        for (n, h) in hosts {
            network.unregister(n)
            h.stop()
        }
        try? FileManager.default.removeItem(atPath: root)
    }
}

func outcome<T>(_ body: () async throws(ProposalError) -> T) async -> Result<T, ProposalError> {
    do { return .success(try await body()) } catch { return .failure(error) }
}

@Suite(.serialized) struct NodeClusterAccessTests {
    @Test func proposalsForwardToTheNamedNodeAndErrorsMap() async throws {
        let c = try AccessCluster()
        defer { c.shutdown() }
        let range = c.bootstrap.descriptors[0].rangeID
        let epoch = c.bootstrap.descriptors[0].epoch
        #expect(await c.eventually { c.leader(of: range) != nil })
        let leader = c.leader(of: range)!
        let other = c.hosts.keys.sorted().first { $0 != leader }!
        let key = (c.bootstrap.descriptors[0].startKey.isEmpty ? [0x01] : c.bootstrap.descriptors[0].startKey) + [0x61]
        let body = RaftCommand.Body.put(PutRequest(key: key, value: [1]))

        // From another node: one node call, answered as the leader answers a direct call.
        let callsBefore = c.network.deliveredCalls
        let forwarded = await outcome { () async throws(ProposalError) in
            try await c.access[other]!.propose(body, range: range, epoch: epoch, requestID: 0xA1, on: leader)
        }
        #expect(c.network.deliveredCalls == callsBefore + 1)
        let direct = await outcome { () async throws(ProposalError) in
            try await c.hosts[leader]!.propose(body, to: range, epoch: epoch, requestID: 0xA2)
        }
        switch (forwarded, direct) {
        case (.success(.put(let a)), .success(.put(let b))):
            #expect(a.revision > 0 && b.revision > a.revision)
        case (.failure(let a), .failure(let b)):
            #expect(a == b)
        default:
            Issue.record("forwarded \(forwarded) vs direct \(direct)")
        }

        // On the local node: no node call.
        let before = c.network.deliveredCalls
        _ = await outcome { () async throws(ProposalError) in
            try await c.access[leader]!.propose(body, range: range, epoch: epoch, requestID: 0xA3, on: leader)
        }
        #expect(c.network.deliveredCalls == before)

        // A down node is unreachable: notLeader without a hint (the router refreshes and retries).
        c.network.setDown(leader, true)
        let down = await outcome { () async throws(ProposalError) in
            try await c.access[other]!.propose(body, range: range, epoch: epoch, requestID: 0xA4, on: leader)
        }
        #expect(down == .failure(.notLeader(leaderHint: .none)))
        let read = await outcome { () async throws(ProposalError) in
            try await c.access[other]!.read(RangeRequest(key: key, revision: 1), range: range, epoch: epoch, on: leader)
        }
        #expect(read == .failure(.notLeader(leaderHint: .none)))
        c.network.setDown(leader, false)
    }

    @Test func feedsFromAnUnreachableNodeFailAndMembersAreListed() async throws {
        let c = try AccessCluster()
        defer { c.shutdown() }
        let a1 = c.access[NodeID(1)]!
        #expect(try await a1.nodes() == c.members)
        #expect(a1.localNode == NodeID(1))
        c.network.partition(NodeID(1), NodeID(3))
        var thrown: (any Error)?
        do {
            let d = c.bootstrap.descriptors[0]
            for try await _ in a1.feed(range: d.rangeID, epoch: d.epoch, from: 1, prevKV: false, on: NodeID(3)) {}
        } catch { thrown = error }
        #expect(thrown as? ProposalError == .notLeader(leaderHint: .none))
    }

    /// A feed asked for at an epoch the serving replica is not at (a stale route) fails with
    /// the replica's descriptor, on the local node and through the node call channel.
    @Test func feedsAtAStaleEpochFailWithTheCurrentDescriptor() async throws {
        let c = try AccessCluster()
        defer { c.shutdown() }
        let d = c.bootstrap.descriptors[0]
        var stale = d.epoch
        stale.version += 1
        for node in [NodeID(1), NodeID(2)] {
            var thrown: (any Error)?
            do {
                for try await _ in c.access[NodeID(1)]!.feed(range: d.rangeID, epoch: stale, from: 1, prevKV: false,
                                                            on: node) {}
            } catch { thrown = error }
            #expect(thrown as? ProposalError == .epochMismatch(current: d), "feed served by node \(node): \(String(describing: thrown))")
        }
    }

    @Test func leaseCallsFindTheSystemLeaderOrSayThereIsNone() async throws {
        let c = try AccessCluster()
        defer { c.shutdown() }
        let a2 = c.access[NodeID(2)]!
        // The system range elects a leader; the lease calls of node 2 find it.
        var anyLeader = false
        for _ in 0..<500 where !anyLeader {
            anyLeader = c.hosts.values.contains { $0.systemLeader() != .none }
            if !anyLeader { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(anyLeader, "the system range elected no leader")
        let lease = try await a2.leaseGrant(id: 0, ttl: 30)
        #expect(lease.grantedTTL == 30)
        #expect(try await a2.leaseLookup(id: lease.id)?.id == lease.id)
        #expect(try await a2.expiredLeases() == [] || c.hosts[NodeID(2)]!.systemLeader() == NodeID(2))
    }

    @Test func routesMergeNewestEpochAndCheckCoverage() {
        func route(_ id: UInt64, _ start: [UInt8], _ end: [UInt8]?, version: UInt64, leader: UInt64) -> RangeRoute {
            RangeRoute(descriptor: RangeDescriptor(rangeID: RangeID(id), startKey: start, endKey: end,
                                                   epoch: .init(confVersion: 1, version: version), replicas: []),
                       leaderHint: NodeID(leader))
        }
        let old = [route(2, [], [0x80], version: 1, leader: 1), route(3, [0x80], nil, version: 1, leader: 0)]
        let new = [route(3, [0x80], nil, version: 1, leader: 2), route(2, [], [0x40], version: 2, leader: 3),
                   route(1, [0xFF], nil, version: 9, leader: 1)]
        let merged = NodeClusterAccess.merge(old, new)
        #expect(merged.map(\.descriptor.rangeID) == [RangeID(2), RangeID(3)], "system range left out, sorted by start")
        #expect(merged[0].descriptor.endKey == [0x40] && merged[0].leaderHint == NodeID(3))
        #expect(merged[1].leaderHint == NodeID(2), "a known hint beats none at the same epoch")
        #expect(!NodeClusterAccess.covers(merged), "gap [0x40, 0x80)")
        #expect(NodeClusterAccess.covers(NodeClusterAccess.merge(old, [])))
        #expect(!NodeClusterAccess.covers([]))
    }

    @Test func feedCursorAdvancesPastResolvedAndEndsAfterCompaction() {
        let cursor = FeedCursor(next: 10)
        #expect(cursor.nextFrom() == 10)
        #expect(!cursor.accept(.events([], resolved: 9)), "nothing new: not passed on")
        #expect(cursor.nextFrom() == 10)
        #expect(cursor.accept(.events([], resolved: 12)), "progress is passed on")
        #expect(cursor.nextFrom() == 13)
        let e = WatchEvent(kind: .put, kv: KeyValue(key: [1], modRevision: 14), prevKV: nil, sub: 0)
        #expect(cursor.accept(.events([e], resolved: 15)))
        #expect(cursor.nextFrom() == 16)
        #expect(cursor.accept(.compacted(compactRevision: 20)))
        #expect(cursor.nextFrom() == nil)
    }
}
