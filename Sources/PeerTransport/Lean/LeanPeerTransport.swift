public import Base
public import Logging
public import Node
import NIOCore
import NIOPosix
import Synchronization

/// Node's `RaftTransport` and `NodeCallTransport` on swift-nio directly, without gRPC or
/// HTTP/2 (`[peer] transport = "lean"`): a `ServerBootstrap` on the peer port and, per peer
/// node, one Raft connection (`LeanRaftLink`: drop-oldest queue, one flush per drained
/// queue, reconnect with backoff and jitter, `peerUnreachable`), one node call connection
/// (`CallChannel` with `leanStream`: the same call semantics as the gRPC transport) and
/// one connection per snapshot in flight (`LeanSnapshotSender`). Frames are `LeanFrame`s,
/// cut and parsed on the event loops. Owns the listener, the accepted connections, the
/// links, the call channels and the counters. Lifecycle: `init` → `start` → `stop`.
public final class LeanPeerTransport: NodePeerTransport {
    public let config: PeerTransportConfig
    let logger: Logger
    let group: any EventLoopGroup
    let statsBox = StatsBox()
    let handlerRef = HandlerRef()
    let links: [NodeID: LeanRaftLink]
    let calls: PeerCalls
    let running = Mutex<Running?>(nil)
    let accepted = AcceptedChannels()

    struct Running {
        var listener: any Channel
        var callTasks: [Task<Void, Never>]
    }

    /// Runs on swift-nio's shared event loop group (the client port's too: no threads of
    /// its own).
    public init(config: PeerTransportConfig, logger: Logger = Logger(label: "flotilla.peer")) {
        self.config = config
        self.logger = logger
        let group = MultiThreadedEventLoopGroup.singleton
        self.group = group
        let handlerRef = self.handlerRef, stats = statsBox
        var links: [NodeID: LeanRaftLink] = [:]
        var channels: [NodeID: CallChannel] = [:]
        for (node, address) in config.peers where node != config.nodeID {
            links[node] = LeanRaftLink(peer: node, address: address, config: config, group: group, stats: stats,
                                       logger: logger, onUnreachable: { handlerRef.get()?.peerUnreachable($0) })
            channels[node] = CallChannel(peer: node, config: config, stats: stats, logger: logger,
                                         openStream: CallChannel.leanStream(address: address, group: group, logger: logger))
        }
        self.links = links
        calls = PeerCalls(nodeID: config.nodeID, channels: channels)
    }

    @discardableResult
    public func start(handler h: any RaftTransportHandler, callHandler: (any NodeCallHandler)? = nil) async throws -> Int {
        handlerRef.set(h)
        calls.handlerRef.set(callHandler ?? (h as? any NodeCallHandler))
        let handlerRef = self.handlerRef, callHandlerRef = calls.handlerRef
        let context = LeanListenContext(nodeID: config.nodeID, handler: { handlerRef.get() },
                                        callHandler: { callHandlerRef.get() }, stats: statsBox, logger: logger)
        let maxLength = config.maxMessageBytes + 1
        let accepted = self.accepted
        let listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                accepted.add(channel)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(LeanFrameDecoder(maxLength: maxLength)),
                        LeanListenHandler(context: context))
                }
            }
            .bind(host: config.listen.host, port: config.listen.port).get()
        let port = listener.localAddress?.port ?? config.listen.port
        for link in links.values { link.start() }
        let callTasks = calls.start()
        running.withLock { $0 = Running(listener: listener, callTasks: callTasks) }
        logger.info("lean peer transport listening", metadata: ["port": "\(port)", "peers": "\(links.count)"])
        return port
    }

    /// Stops the outgoing side (Raft links, call channels: their calls end `.closed`), then
    /// the listener, then closes every accepted connection (inbound snapshot receivers see
    /// the stream fail and end).
    public func stop() async {
        calls.stopped.store(true, ordering: .releasing)
        guard let r = running.withLock({ s -> Running? in defer { s = nil }; return s }) else { return }
        for link in links.values { await link.stop() }
        for t in r.callTasks { t.cancel() }
        for t in r.callTasks { await t.value }
        try? await r.listener.close()
        for channel in accepted.all { try? await channel.close() }
    }

    // MARK: RaftTransport

    public func send(_ batches: [NodeID: [RangeMessage]]) {
        for (node, batch) in batches {
            if let link = links[node] {
                link.enqueue(batch)
            } else if !batch.isEmpty {
                logger.warning("no address for peer", metadata: ["peer": "\(node)"])
                handlerRef.get()?.peerUnreachable(node)
            }
        }
    }

    public func sendSnapshot(to node: NodeID, header: SnapshotHeader,
                             chunks: AsyncThrowingStream<[UInt8], any Error>) async throws {
        guard let address = config.peers[node], node != config.nodeID else { throw PeerTransportError.unknownPeer(node) }
        guard !calls.stopped.load(ordering: .acquiring) else { throw PeerTransportError.stopped }
        try await LeanSnapshotSender.send(to: address, header: header, chunks: chunks, config: config, group: group,
                                          stats: statsBox, logger: logger)
    }

    // MARK: NodeCallTransport

    public func call(_ node: NodeID, _ request: [UInt8], timeoutMs: Int) async throws(NodeCallError) -> [UInt8] {
        try await calls.call(node, request, timeoutMs: timeoutMs)
    }

    public func isCallStreamConnected(to node: NodeID) -> Bool { calls.isConnected(to: node) }

    // MARK: observation

    public var stats: PeerTransportStats {
        var s = statsBox.withLock { $0 }
        s.batchesDropped = links.values.reduce(0) { $0 + $1.queue.droppedCount }
        return s
    }

    public func isConnected(to node: NodeID) -> Bool { links[node]?.isConnected ?? false }
}

/// The accepted connections of a lean peer listener, so `stop` can close them. Owns the
/// channel table (entries leave when their channel closes).
final class AcceptedChannels: Sendable {
    let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    func add(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        channels.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { _ in _ = self.channels.withLock { $0.removeValue(forKey: id) } }
    }

    var all: [any Channel] { channels.withLock { Array($0.values) } }
}
