public import Base
import GRPCCore
import GRPCNIOTransportHTTP2
public import Logging
public import Node
import Synchronization

/// Node's `RaftTransport` over grpc-swift-2 (HTTP/2, plaintext): ONE long-lived
/// bidirectional Raft stream per peer node carrying each poll round's batch for all ranges
/// (an empty batch — the coalesced node heartbeat — is sent like any other), bounded
/// drop-oldest send queues, reconnect with backoff + jitter, `peerUnreachable` on failure,
/// and snapshots as separate throttled client-streaming RPCs. Also the node call channel
/// (`NodeCallTransport`): ONE more long-lived bidirectional stream per peer on the same
/// connection (`CallChannel`), calls multiplexed by call ID and coalesced per write.
/// Owns the peer server, one `PeerLink` and one `CallChannel` per peer and the transport
/// counters. Lifecycle: `init` → `start(handler:callHandler:)` → `stop()`.
public final class GRPCPeerTransport: NodePeerTransport {
    public let config: PeerTransportConfig
    let logger: Logger
    let links: [NodeID: PeerLink]
    let statsBox = StatsBox()
    let handlerRef: HandlerRef
    let calls: PeerCalls
    let shutdown = ShutdownSignal()
    /// How long `stop` lets the server finish its RPCs before cancelling it.
    static let serverGraceMs = 2_000
    let server: GRPCServer<HTTP2ServerTransport.Posix>
    let serverTransport: HTTP2ServerTransport.Posix
    let tasks = Mutex<[Task<Void, Never>]>([])

    public init(config: PeerTransportConfig, logger: Logger = Logger(label: "flotilla.peer")) throws {
        self.config = config
        self.logger = logger
        let handlerRef = HandlerRef()
        self.handlerRef = handlerRef
        var links: [NodeID: PeerLink] = [:]
        for (node, address) in config.peers where node != config.nodeID {
            links[node] = try PeerLink(peer: node, address: address, config: config, stats: statsBox,
                                       logger: logger, onUnreachable: { handlerRef.get()?.peerUnreachable($0) })
        }
        self.links = links
        let stats = statsBox
        calls = PeerCalls(nodeID: config.nodeID, channels: links.mapValues { link in
            CallChannel(peer: link.peer, config: config, stats: stats, logger: logger,
                        openStream: CallChannel.grpcStream(client: link.client))
        })
        serverTransport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: config.listen.host, port: config.listen.port),
            transportSecurity: .plaintext,
            config: .defaults { c in
                c.connection.keepalive.clientBehavior = .init(
                    minPingIntervalWithoutCalls: .milliseconds(config.keepaliveMinTimeMs), allowWithoutCalls: true)
                c.rpc.maxRequestPayloadSize = config.maxMessageBytes
            })
        let callHandlerRef = calls.handlerRef
        let service = PeerService(handler: { handlerRef.get() }, callHandler: { callHandlerRef.get() },
                                  shutdown: shutdown, stats: statsBox, logger: logger)
        server = GRPCServer(transport: serverTransport, services: [service])
    }

    /// Starts the peer server, the links and the call channels; inbound Raft traffic goes to
    /// `handler`, inbound node calls to `callHandler` (by default `handler`, when it is one:
    /// `NodeHost` is). Returns the port the server listens on.
    @discardableResult
    public func start(handler h: any RaftTransportHandler, callHandler: (any NodeCallHandler)? = nil) async throws -> Int {
        handlerRef.set(h)
        calls.handlerRef.set(callHandler ?? (h as? any NodeCallHandler))
        let server = self.server
        let serveTask = Task {
            do {
                try await server.serve()
            } catch where !Task.isCancelled {
                self.logger.error("peer server failed", metadata: ["error": "\(error)"])
            } catch {}
        }
        var started = [serveTask]
        for link in links.values { started.append(Task { await link.run() }) }
        started += calls.start()
        tasks.withLock { $0.append(contentsOf: started) }
        let address = try await serverTransport.listeningAddress
        let port = address.ipv4?.port ?? config.listen.port
        logger.info("peer transport listening", metadata: ["port": "\(port)", "peers": "\(links.count)"])
        return port
    }

    /// Stops the links and call channels (our outgoing side), then the server: it stops
    /// accepting (GOAWAY), our handlers end the peers' long-lived streams, and the server is
    /// given `serverGraceMs` to finish before it is cancelled.
    public func stop() async {
        calls.stopped.store(true, ordering: .releasing)
        let running = tasks.withLock { t in
            defer { t = [] }
            return t
        }
        guard let serveTask = running.first else { return }
        for t in running.dropFirst() { t.cancel() }
        for t in running.dropFirst() { await t.value }
        server.beginGracefulShutdown()
        shutdown.fire()
        let grace = Task {
            try? await Task.sleep(for: .milliseconds(Self.serverGraceMs))
            if !Task.isCancelled { serveTask.cancel() }
        }
        await serveTask.value
        grace.cancel()
    }

    // MARK: RaftTransport

    public func send(_ batches: [NodeID: [RangeMessage]]) {
        for (node, batch) in batches {
            if let link = links[node] {
                link.enqueue(batch)
            } else if !batch.isEmpty {
                logger.warning("no address for peer", metadata: ["peer": "\(node)"])
                currentHandler()?.peerUnreachable(node)
            }
        }
    }

    public func sendSnapshot(to node: NodeID, header: SnapshotHeader,
                             chunks: AsyncThrowingStream<[UInt8], any Error>) async throws {
        guard let link = links[node] else { throw PeerTransportError.unknownPeer(node) }
        try await link.sendSnapshot(header: header, chunks: chunks)
    }

    // MARK: NodeCallTransport

    /// Calls `node` on its call stream (a call to this node itself runs the local handler).
    public func call(_ node: NodeID, _ request: [UInt8], timeoutMs: Int) async throws(NodeCallError) -> [UInt8] {
        try await calls.call(node, request, timeoutMs: timeoutMs)
    }

    /// Whether the call stream to `node` is up.
    public func isCallStreamConnected(to node: NodeID) -> Bool { calls.isConnected(to: node) }

    // MARK: observation

    public var stats: PeerTransportStats {
        var s = statsBox.withLock { $0 }
        s.batchesDropped = links.values.reduce(0) { $0 + $1.queue.droppedCount }
        return s
    }

    /// Whether the Raft stream to `node` is up.
    public func isConnected(to node: NodeID) -> Bool { links[node]?.connected.load(ordering: .acquiring) ?? false }

    func currentHandler() -> (any RaftTransportHandler)? { handlerRef.get() }
}

/// The node's call handler, set once the node exists.
final class CallHandlerRef: Sendable {
    let state = Mutex<(any NodeCallHandler)?>(nil)
    func get() -> (any NodeCallHandler)? { state.withLock { $0 } }
    func set(_ h: (any NodeCallHandler)?) { state.withLock { $0 = h } }
}

/// The node handler, set once the node exists (the node needs the transport first).
final class HandlerRef: Sendable {
    let state = Mutex<(any RaftTransportHandler)?>(nil)
    func get() -> (any RaftTransportHandler)? { state.withLock { $0 } }
    func set(_ h: any RaftTransportHandler) { state.withLock { $0 = h } }
}
