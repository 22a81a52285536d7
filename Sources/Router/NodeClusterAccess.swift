import API
public import Base
import Foundation
public import MVCC
public import Node
import Synchronization

/// `ClusterAccess` over this node's `NodeHost` and the node call channel: a call naming
/// the local node runs on the host directly, any other node gets a `NodeCall` through
/// `NodeCallClient` (transport failures read as `ProposalError`s: unreachable →
/// `.notLeader(.none)`, no answer → `.timeout`). Lease operations go to the system range
/// leader wherever it is, following notLeader hints. Owns only its settings, the member
/// list the server passes in, and the last known system range leader.
public final class NodeClusterAccess: ClusterAccess {
    /// Timeouts and retry bounds.
    public struct Settings: Sendable {
        /// Calls that run one Raft round or less (propose, read, oracle, leases, routes).
        public var callTimeoutMs = 10_000
        /// Feed long polls: how long the serving node may wait for something new, and
        /// the largest batch it returns.
        public var feedWaitMs = 1_000
        public var feedMaxEvents = 1_000
        /// Lease calls: how long to keep looking for the system range leader.
        public var leaseLeaderSearchMs = 5_000
        public init() {}
    }

    public let host: NodeHost
    public let client: NodeCallClient
    public let settings: Settings
    let members: [NodeRecord]
    /// The node last seen leading the system range (a hint; `.none` when unknown).
    let systemLeaderHint = Mutex(NodeID.none)

    public init(host: NodeHost, transport: any NodeCallTransport, members: [NodeRecord], settings: Settings = Settings()) {
        self.host = host
        self.client = NodeCallClient(transport: transport, timeoutMs: settings.callTimeoutMs)
        self.members = members
        self.settings = settings
    }

    public var localNode: NodeID { host.nodeID }

    public func leaderInstead(of hinted: NodeID, range: RangeID) -> NodeID? {
        guard host.peerIsDown(hinted) else { return nil }
        let local = host.leaderHint(of: range)
        return local == hinted ? .none : local
    }

    // MARK: routing table

    /// The local node's table; when it does not cover the user keyspace (this node lacks
    /// replicas and the system range's table), the other nodes' tables are merged in
    /// (newest epoch per range; the leader hint from the entry kept).
    public func routes() async throws -> [RangeRoute] {
        var table = Self.merge([], host.routingTable())
        if Self.covers(table) { return table }
        let others = members.map(\.nodeID).filter { $0 != localNode }
        let client = self.client
        let remote = await withTaskGroup(of: [RangeRoute].self) { group in
            for node in others {
                group.addTask { (try? await client.routingTable(on: node)) ?? [] }
            }
            var all: [[RangeRoute]] = []
            for await routes in group { all.append(routes) }
            return all
        }
        for routes in remote { table = Self.merge(table, routes) }
        return table
    }

    /// Newest epoch per range wins; between equal epochs a known leader hint wins. The
    /// system range is left out. Sorted by start key.
    static func merge(_ a: [RangeRoute], _ b: [RangeRoute]) -> [RangeRoute] {
        var byID: [RangeID: RangeRoute] = [:]
        for r in a + b where r.descriptor.rangeID != .system {
            guard let old = byID[r.descriptor.rangeID] else {
                byID[r.descriptor.rangeID] = r
                continue
            }
            if r.descriptor.epoch > old.descriptor.epoch
                || (r.descriptor.epoch == old.descriptor.epoch && old.leaderHint == .none && r.leaderHint != .none) {
                byID[r.descriptor.rangeID] = r
            }
        }
        return byID.values.sorted { $0.descriptor.startKey.lexicographicallyPrecedes($1.descriptor.startKey) }
    }

    /// Whether sorted `routes` tile `[[], nil)` without gaps.
    static func covers(_ routes: [RangeRoute]) -> Bool {
        var next: [UInt8]? = []
        for r in routes {
            guard let expected = next, r.descriptor.startKey == expected else { return false }
            next = r.descriptor.endKey
        }
        return next == nil
    }

    // MARK: revisions

    public func freshRevision() async throws(ProposalError) -> Int64 { try await host.freshRevision() }

    // MARK: range operations

    public func propose(_ body: RaftCommand.Body, range: RangeID, epoch: RangeDescriptor.Epoch, requestID: UInt64,
                        on node: NodeID) async throws(ProposalError) -> CommandResult {
        if node == localNode { return try await host.propose(body, to: range, epoch: epoch, requestID: requestID) }
        return try await client.propose(body, range: range, epoch: epoch, requestID: requestID, on: node)
    }

    public func read(_ request: RangeRequest, range: RangeID, epoch: RangeDescriptor.Epoch,
                     on node: NodeID) async throws(ProposalError) -> RangeResponse {
        if node == localNode { return try await host.read(at: request, in: range, epoch: epoch) }
        return try await client.read(request, range: range, epoch: epoch, on: node)
    }

    public func readFresh(_ request: RangeRequest, range: RangeID, epoch: RangeDescriptor.Epoch,
                          on node: NodeID) async throws(ProposalError) -> RangeResponse {
        if node == localNode { return try await host.readFresh(request, in: range, epoch: epoch) }
        return try await client.readFresh(request, range: range, epoch: epoch, on: node)
    }

    public func localRead(_ request: RangeRequest, range: RangeID) async throws(ProposalError) -> RangeResponse {
        try host.localRead(request, in: range)
    }

    /// Pulls batches with `nextFeedBatch` (local or remote long polls) one at a time: the
    /// next poll starts only when the consumer asks for the next item. Progress items that
    /// move nothing (a poll that timed out with no news) are not passed on.
    public func feed(range: RangeID, epoch: RangeDescriptor.Epoch, from: Int64, prevKV: Bool,
                     on node: NodeID) -> AsyncThrowingStream<RangeFeedItem, any Error> {
        let cursor = FeedCursor(next: from)
        let host = self.host, client = self.client, local = localNode, settings = self.settings
        return AsyncThrowingStream(unfolding: {
            while true {
                try Task.checkCancellation()
                guard let from = cursor.nextFrom() else { return nil }
                let item: RangeFeedItem
                if node == local {
                    item = try await host.nextFeedBatch(range: range, epoch: epoch, from: from, prevKV: prevKV,
                                                        maxEvents: settings.feedMaxEvents, waitMs: settings.feedWaitMs)
                } else {
                    item = try await client.nextFeedBatch(range: range, epoch: epoch, from: from, prevKV: prevKV,
                                                          maxEvents: settings.feedMaxEvents, waitMs: settings.feedWaitMs,
                                                          on: node)
                }
                if cursor.accept(item) { return item }
            }
        })
    }

    /// The local node's closer is asked directly; feeds served by another node wait for its
    /// closer's tick (router feeds prefer the local replica, so that is a node without one).
    public func demandClose(range: RangeID, on node: NodeID) {
        if node == localNode { host.demandClose(range) }
    }

    // MARK: leases

    public func leaseGrant(id: Int64, ttl: Int64) async throws -> LeaseRecord {
        let granted = try await onSystemLeader(idempotent: false) { node, host, client throws(ProposalError) in
            node == nil ? try await host.leaseGrant(id: id, ttl: ttl) : try await client.leaseGrant(id: id, ttl: ttl, on: node!)
        }
        guard let granted else { throw EtcdError.leaseExists }
        return granted
    }

    public func leaseLookup(id: Int64) async throws -> LeaseRecord? {
        try await onSystemLeader { node, host, client throws(ProposalError) in
            node == nil ? try await host.leaseLookup(id: id) : try await client.leaseLookup(id: id, on: node!)
        }
    }

    public func leaseKeepAlive(id: Int64) async throws -> LeaseRecord? {
        try await onSystemLeader { node, host, client throws(ProposalError) in
            node == nil ? try await host.leaseKeepAlive(id: id) : try await client.leaseKeepAlive(id: id, on: node!)
        }
    }

    public func leaseBeginRevoke(id: Int64) async throws -> LeaseRecord? {
        try await onSystemLeader(idempotent: false) { node, host, client throws(ProposalError) in
            node == nil ? try await host.leaseBeginRevoke(id: id) : try await client.leaseBeginRevoke(id: id, on: node!)
        }
    }

    public func leaseRemove(id: Int64) async throws -> Bool {
        try await onSystemLeader(idempotent: false) { node, host, client throws(ProposalError) in
            node == nil ? try await host.leaseRemove(id: id) : try await client.leaseRemove(id: id, on: node!)
        }
    }

    public func leases() async throws -> [LeaseRecord] {
        try await onSystemLeader { node, host, client throws(ProposalError) in
            node == nil ? try await host.leases() : try await client.leases(on: node!)
        }
    }

    /// Only the system range leader's node reports expired leases (it revokes them).
    public func expiredLeases() async throws -> [Int64] {
        host.systemLeader() == localNode ? await host.expiredLeases() : []
    }

    /// Runs `body` on the system range leader: locally (`node == nil`) when this node
    /// leads it, else on the leader's node. Follows notLeader hints and asks around when no
    /// leader is known, for up to `leaseLeaderSearchMs`; other errors are thrown as they are.
    /// A leader this node's failure detector marks down is not called, and a call waiting on
    /// it ends then (`NodeHost.unlessMarkedDown`): an `idempotent` call is retried on the new
    /// leader, any other fails with `.timeout` (it may still apply there: outcome unknown).
    func onSystemLeader<T: Sendable>(
        idempotent: Bool = true,
        _ body: @escaping @Sendable (NodeID?, NodeHost, NodeCallClient) async throws(ProposalError) -> T
    ) async throws(ProposalError) -> T {
        let deadline = Date().addingTimeInterval(Double(settings.leaseLeaderSearchMs) / 1_000)
        var target = host.systemLeader()
        if target == .none { target = systemLeaderHint.withLock { $0 } }
        var lastError = ProposalError.notLeader(leaderHint: .none)
        var attempts = 0
        while true {
            attempts += 1
            // Hints can chase each other during an election: pace every retry after the
            // first redirect.
            if attempts > 2 { try? await Task.sleep(for: .milliseconds(20)) }
            if target != .none && host.peerIsDown(target) { target = .none }
            if target == .none { target = await host.discoverSystemLeader(alsoAsking: members.map(\.nodeID)) }
            if target != .none {
                do throws(ProposalError) {
                    let result: T
                    if target == localNode {
                        result = try await body(nil, host, client)
                    } else {
                        let node = target, host = self.host, client = self.client
                        guard let answer = try await host.unlessMarkedDown(node, timeoutMs: settings.callTimeoutMs, {
                            () async throws(ProposalError) -> T in try await body(node, host, client)
                        }) else {
                            let abandoned: ProposalError = idempotent ? .notLeader(leaderHint: .none) : .timeout
                            throw abandoned
                        }
                        result = answer
                    }
                    systemLeaderHint.withLock { $0 = target }
                    return result
                } catch {
                    guard case .notLeader(let hint) = error else { throw error }
                    lastError = error
                    target = hint
                }
            }
            guard Date() < deadline else { throw lastError }
            if target == .none {
                try? await Task.sleep(for: .milliseconds(30))
                target = host.systemLeader()
            }
        }
    }

    // MARK: cluster

    public func nodes() async throws -> [NodeRecord] { members }
}

/// Where a feed continues: the next revision to ask for, and whether it ended
/// (`.compacted`). Shared by the feed's unfolding closure; a lock makes it Sendable.
final class FeedCursor: Sendable {
    struct State {
        var next: Int64
        var lastResolved: Int64
        var ended = false
    }
    let state: Mutex<State>

    init(next: Int64) { state = Mutex(State(next: next, lastResolved: next - 1)) }

    func nextFrom() -> Int64? { state.withLock { $0.ended ? nil : $0.next } }

    /// Advances past `item`; returns whether the consumer should see it.
    func accept(_ item: RangeFeedItem) -> Bool {
        state.withLock { s in
            switch item {
            case .compacted:
                s.ended = true
                return true
            case .events(let events, let resolved):
                let moved = resolved > s.lastResolved
                if moved {
                    s.lastResolved = resolved
                    s.next = max(s.next, resolved + 1)
                }
                return !events.isEmpty || moved
            }
        }
    }
}
