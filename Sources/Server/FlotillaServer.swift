import API
import Base
import Dispatch
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
public import Logging
import NIOHTTP1
public import Node
public import PeerTransport
import Placement
import Synchronization

/// The composition root of one node: wires `NodeHost` + its `NodePeerTransport` (peer port,
/// `[peer] transport`: `GRPCPeerTransport` or `LeanPeerTransport`:
/// Raft streams, snapshots and the node call channel in both directions),
/// the Admin gRPC service (client port) and the metrics HTTP server, and owns their
/// lifecycle: `start()` brings everything up in dependency order, `stop()` takes it down
/// in reverse (client port, metrics, transport, node — the node's final MVCC flush last).
public final class FlotillaServer: Sendable {
    public let config: ServerConfig
    public let host: NodeHost
    public let transport: any NodePeerTransport
    let logger: Logger
    let peers: [NodeID: PeerTransportConfig.Address]
    let clientPort: ClientPort
    let started = Mutex<Started?>(nil)
    let api: ClientAPI

    struct Started: Sendable {
        var tasks: [Task<Void, Never>]
        var metrics: MetricsHTTPServer
        var ports: Ports
    }

    /// The ports actually bound (a configured port 0 picks a free one).
    public struct Ports: Sendable, Equatable {
        public var client: Int
        public var peer: Int
        public var metrics: Int
    }

    public init(config: ServerConfig, logger: Logger) throws {
        self.config = config
        self.logger = logger
        peers = try config.validate()
        let kind = PeerTransportKind(rawValue: config.peerTransport) ?? .lean
        transport = try kind.make(config: try config.transportConfig(peers: peers), logger: logger)
        let bootstrap = BootstrapConfig(nodes: peers.keys.sorted(), rangeCount: config.rangeCount,
                                        leadersWithSystem: config.placementSettings.policy == .withSystem)
        let host = try NodeHost(config: config.nodeConfig, transport: transport, bootstrap: bootstrap)
        self.host = host
        // The node calls other nodes (oracle, leases, forwarded feeds) on the peer port's
        // call streams; `transport.start(handler: host)` makes it answer theirs.
        host.callTransport = transport
        let router = RangeRouter(host.rangeIDs.compactMap { host.descriptor(of: $0) })
        let client = try ServerConfig.address(config.clientAddress, "listen.clientAddress")
        api = try ClientAPI(config: config, host: host, transport: transport, peers: peers, logger: logger)
        let services: [any RegistrableRPCService] = [AdminService(host: host, router: router, logger: logger)]
            + api.services(limits: EtcdLimits())
        clientPort = try ClientPort.make(transport: config.clientTransport, host: client.host, port: client.port,
                                         keepaliveMinTimeMs: config.keepaliveMinTimeMs, services: services)
    }

    /// Starts the node and its three ports; returns the bound ports.
    @discardableResult
    public func start() async throws -> Ports {
        let peerPort = try await transport.start(handler: host)
        host.start()
        let clientServe = self.clientPort.serve
        let logger = self.logger
        let serveTask = Task {
            do {
                try await clientServe()
            } catch where !Task.isCancelled {
                logger.error("client port failed", metadata: ["error": "\(error)"])
            } catch {}
        }
        let clientPort = try await self.clientPort.listeningPort()
        let metricsAddress = try ServerConfig.address(config.metricsAddress, "listen.metricsAddress")
        let metrics = try await MetricsHTTPServer.start(host: metricsAddress.host, port: metricsAddress.port) {
            [self] path in respond(path)
        }
        let leaseExpiry = api.router.startLeaseExpiry()
        let sampler = Task { [self] in
            while !Task.isCancelled {
                api.node.refresh()
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        let ports = Ports(client: clientPort, peer: peerPort, metrics: metrics.port)
        started.withLock { $0 = Started(tasks: [serveTask, sampler, leaseExpiry], metrics: metrics, ports: ports) }
        logger.info("node serving", metadata: [
            "node": "\(config.nodeID)", "ranges": "\(host.rangeIDs.count)", "clientPort": "\(clientPort)", "clientTransport": "\(config.clientTransport)",
            "peerTransport": "\(config.peerTransport)",
            "peerPort": "\(peerPort)", "metricsPort": "\(metrics.port)", "dataDir": "\(config.dataDir)",
        ])
        return ports
    }

    /// Graceful stop: no new client requests, then the transport, then the node (flushing
    /// applied state).
    public func stop() async {
        guard let s = started.withLock({ st -> Started? in defer { st = nil }; return st }) else { return }
        clientPort.beginGracefulShutdown()
        await s.metrics.stop()
        let grace = Task {
            try? await Task.sleep(for: .milliseconds(config.shutdownGraceMs))
            s.tasks.forEach { $0.cancel() }
        }
        for t in s.tasks.dropFirst() { t.cancel() }
        await s.tasks[0].value
        grace.cancel()
        await transport.stop()
        // `NodeHost.stop` blocks (loop exit, WAL sync, final MVCC commit): on a thread of its
        // own, never on a task's thread (with FLOTILLA_EXECUTOR=nio that is an event loop).
        await onBlockingThread { [host] in host.stop(flush: true) }
        logger.info("node stopped", metadata: ["node": "\(config.nodeID)"])
    }

    public var ports: Ports? { started.withLock { $0?.ports } }

    // MARK: HTTP

    func respond(_ path: String) -> (HTTPResponseStatus, String, String) {
        switch path {
        case "/metrics":
            return (.ok, "text/plain; version=0.0.4",
                    PrometheusText.render(node: host.metrics, transport: transport.stats, nodeID: host.nodeID,
                                          placement: host.placementStats))
        case "/health":
            return (.ok, "text/plain", "ok\n")
        case "/status":
            return (.ok, "application/json", statusJSON())
        default:
            return (.notFound, "text/plain", "not found: \(path)\n")
        }
    }

    func statusJSON() -> String {
        let m = host.metrics
        var ranges: [String] = []
        for id in host.rangeIDs {
            let applied = m.appliedIndex[id] ?? 0
            ranges.append("{\"rangeID\":\(id.rawValue),\"leader\":\(host.leaderHint(of: id).rawValue),"
                          + "\"isLeader\":\(host.isLeader(of: id)),\"quiesced\":\(host.isQuiesced(id)),"
                          + "\"appliedIndex\":\(applied)}")
        }
        let peerList = peers.keys.sorted().filter { $0 != host.nodeID }.map {
            "{\"node\":\($0.rawValue),\"connected\":\(transport.isConnected(to: $0))}"
        }
        return "{\"node\":\(host.nodeID.rawValue),\"leaderCount\":\(m.leaderCount),\"rangeCount\":\(m.rangeCount),"
            + "\"quiescedCount\":\(m.quiescedCount),\"walDiskBytes\":\(m.walDiskBytes),"
            + "\"peers\":[\(peerList.joined(separator: ","))],\"ranges\":[\(ranges.joined(separator: ","))]}\n"
    }

    /// Runs until SIGTERM or SIGINT, then stops gracefully.
    public func runUntilSignalled() async {
        let signals = TerminationSignals()
        if let sig = await signals.next() {
            logger.notice("signal received; shutting down", metadata: ["signal": "\(sig)"])
        }
        await stop()
        signals.cancel()
    }
}
