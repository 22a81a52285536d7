import Base
import Foundation
import MVCC
import Node

/// Several NodeHosts in one process over a `LocalNetwork`, each with a real data directory
/// under a temporary root. Test helper: start, stop, restart nodes; write through leaders;
/// read each replica's MVCC.
final class TestCluster: @unchecked Sendable {
    // @unchecked Sendable: tests drive the cluster from one task at a time; `hosts` is only
    // mutated by start/stop calls made sequentially by the test body.
    let root: String
    let network = LocalNetwork(seed: 7)
    /// The cluster's revision oracle (the system range's stand-in), shared by every node.
    let oracle = InMemoryRevisionOracle()
    let bootstrap: BootstrapConfig
    var hosts: [NodeID: NodeHost] = [:]
    let tune: @Sendable (inout NodeConfig) -> Void
    /// The transport each node sends with, made from its `LocalTransport` (tests wrap it to
    /// observe traffic).
    let wrap: @Sendable (NodeID, LocalTransport) -> any RaftTransport

    init(nodes: Int = 3, ranges: Int = 8, tune: @escaping @Sendable (inout NodeConfig) -> Void = { _ in },
         wrap: @escaping @Sendable (NodeID, LocalTransport) -> any RaftTransport = { $1 }) throws {
        root = NSTemporaryDirectory() + "flotilla-node-\(UUID().uuidString)"
        bootstrap = BootstrapConfig(nodes: (1...nodes).map { NodeID(UInt64($0)) }, rangeCount: ranges)
        self.tune = tune
        self.wrap = wrap
        // Register every node before any loop runs, so the intended leaders' first
        // campaigns reach their peers.
        for n in bootstrap.nodes {
            let host = try NodeHost(config: config(n), transport: wrap(n, network.transport(for: n)), bootstrap: bootstrap)
            network.register(n, host)
            hosts[n] = host
        }
        for h in hosts.values { h.start() }
    }

    func config(_ node: NodeID) -> NodeConfig {
        var c = NodeConfig(nodeID: node, dataDirectory: root + "/n\(node.rawValue)")
        // 50 ms ticks, 0.5–1 s election timeout: tolerant of a loaded 2-core CI machine.
        c.tickIntervalMs = 50
        c.electionTicks = 10
        c.applyCommitIntervalMs = 20
        c.walGCIntervalMs = 100
        c.proposalTimeoutMs = 3_000
        c.revisionSource = oracle
        tune(&c)
        return c
    }

    func start(_ node: NodeID) throws {
        let host = try NodeHost(config: config(node), transport: wrap(node, network.transport(for: node)), bootstrap: bootstrap)
        network.register(node, host)
        hosts[node] = host
        host.start()
    }

    func stop(_ node: NodeID, flush: Bool = true) {
        network.unregister(node)
        hosts.removeValue(forKey: node)?.stop(flush: flush)
    }

    func shutdown() {
        for n in hosts.keys { stop(n) }
        try? FileManager.default.removeItem(atPath: root)
    }

    var rangeIDs: [RangeID] { bootstrap.descriptors.map(\.rangeID) }

    /// A key inside the i-th bootstrap range.
    func key(range i: Int, _ suffix: String) -> [UInt8] {
        let d = bootstrap.descriptors[i]
        return (d.startKey.isEmpty ? [0x01] : d.startKey) + Array(suffix.utf8)
    }

    func range(of key: [UInt8]) -> RangeID { bootstrap.descriptors.first { $0.contains(key) }!.rangeID }

    /// The live node leading `range`, if exactly one claims it.
    func leader(of range: RangeID) -> NodeID? {
        let leaders = hosts.filter { $0.value.isLeader(of: range) }.map(\.key)
        return leaders.count == 1 ? leaders[0] : nil
    }

    /// Proposes through the leader, following hints and retrying until `deadline`.
    @discardableResult
    func propose(_ body: RaftCommand.Body, range: RangeID, within seconds: Double = 30) async throws -> CommandResult {
        let deadline = Date().addingTimeInterval(seconds)
        var lastError: (any Error)?
        while Date() < deadline {
            let target = leader(of: range) ?? hosts.keys.sorted().first!
            do {
                return try await hosts[target]!.propose(body, to: range)
            } catch {
                lastError = error
                if case .rejected = error { throw error }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        throw lastError ?? ProposalError.timeout
    }

    /// Proposes with a client request ID through the leader, retrying with the SAME ID
    /// (the range de-duplicates it, so a retry after an unknown outcome never applies twice).
    @discardableResult
    func propose(_ body: RaftCommand.Body, range: RangeID, requestID: UInt64,
                 within seconds: Double = 30) async throws -> CommandResult {
        let deadline = Date().addingTimeInterval(seconds)
        var lastError: (any Error)?
        while Date() < deadline {
            let target = leader(of: range) ?? hosts.keys.sorted().first!
            guard let host = hosts[target], let epoch = host.descriptor(of: range)?.epoch else {
                try await Task.sleep(for: .milliseconds(20))
                continue
            }
            do {
                return try await host.propose(body, to: range, epoch: epoch, requestID: requestID)
            } catch {
                lastError = error
                if case .rejected = error { throw error }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        throw lastError ?? ProposalError.timeout
    }

    /// Reads `request` at `request.revision` on the range's leader, following hints.
    func read(at request: RangeRequest, range: RangeID, within seconds: Double = 30) async throws -> RangeResponse {
        let deadline = Date().addingTimeInterval(seconds)
        var lastError: (any Error)?
        while Date() < deadline {
            let target = leader(of: range) ?? hosts.keys.sorted().first!
            do {
                return try await hosts[target]!.read(at: request, in: range, epoch: nil)
            } catch {
                lastError = error
                if case .rejected = error { throw error }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        throw lastError ?? ProposalError.timeout
    }

    func put(_ key: [UInt8], _ value: [UInt8]) async throws -> PutResponse {
        guard case .put(let r) = try await propose(.put(PutRequest(key: key, value: value)), range: range(of: key)) else {
            throw ProposalError.proposalDropped("unexpected result")
        }
        return r
    }

    /// The value `node`'s replica holds for `key` (nil when absent or no replica).
    func value(on node: NodeID, _ key: [UInt8]) -> [UInt8]? {
        guard let store = hosts[node]?.store(for: range(of: key)) else { return nil }
        return (try? store.range(RangeRequest(key: key)))?.kvs.first?.value
    }

    /// Polls `condition` every 20 ms until it holds or `seconds` pass.
    func eventually(_ seconds: Double = 30, _ condition: () -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }
}
