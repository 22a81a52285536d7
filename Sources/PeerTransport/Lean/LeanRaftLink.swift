import Base
import Logging
import Node
import NIOCore
import Synchronization

/// The Raft connection to ONE peer node on the lean peer port: owns the bounded
/// drop-oldest queue of encoded batches, the current connection (if any) and the reconnect
/// timer. `enqueue` (from the node's loop thread) queues a batch and, when nothing is
/// scheduled yet, schedules ONE drain on the connection's event loop: the drain writes
/// every queued batch into one buffer and flushes once — no task hop per batch. A drain
/// stops while the channel is not writable (TCP back-pressure: the queue then fills and
/// drops its oldest) and resumes when it is writable again. On a failed dial or a broken
/// connection the handler hears `peerUnreachable` and the link redials with exponential
/// backoff and jitter.
final class LeanRaftLink: Sendable {
    struct State {
        var channel: (any Channel)?
        var drainScheduled = false
        var stopped = false
        var reconnect: Scheduled<Void>?
        var delayMs: Double
        var everConnected = false
    }

    let peer: NodeID
    let address: PeerTransportConfig.Address
    let config: PeerTransportConfig
    let group: any EventLoopGroup
    let queue: SendQueue<[UInt8]>
    let stats: StatsBox
    let logger: Logger
    let onUnreachable: @Sendable (NodeID) -> Void
    let state: Mutex<State>

    init(peer: NodeID, address: PeerTransportConfig.Address, config: PeerTransportConfig, group: any EventLoopGroup,
         stats: StatsBox, logger: Logger, onUnreachable: @escaping @Sendable (NodeID) -> Void) {
        self.peer = peer
        self.address = address
        self.config = config
        self.group = group
        self.queue = SendQueue(capacity: config.sendQueueBatches)
        self.stats = stats
        self.logger = logger
        self.onUnreachable = onUnreachable
        self.state = Mutex(State(delayMs: Double(config.reconnectInitialMs)))
    }

    var isConnected: Bool { state.withLock { $0.channel != nil } }

    /// Queues one batch (a full queue drops its oldest) and schedules a drain.
    func enqueue(_ batch: [RangeMessage]) {
        if !queue.push(MessageCodec.encode(batch: batch)) {
            stats.withLock { $0.batchesDropped += 1 }
        }
        scheduleDrain()
    }

    func scheduleDrain() {
        let channel = state.withLock { s -> (any Channel)? in
            guard let c = s.channel, !s.drainScheduled else { return nil }
            s.drainScheduled = true
            return c
        }
        guard let channel else { return }
        channel.eventLoop.execute { self.drain(channel) }
    }

    /// On the event loop: writes everything queued in one buffer, one flush.
    func drain(_ channel: any Channel) {
        state.withLock { $0.drainScheduled = false }
        guard channel.isWritable, channel.isActive else { return }
        let frames = queue.takeAll()
        guard !frames.isEmpty else { return }
        var bytes = 0
        var buffer = channel.allocator.buffer(capacity: frames.reduce(0) { $0 + 5 + $1.count })
        for f in frames {
            LeanFrameCodec.encode(.raft, f, into: &buffer)
            bytes += f.count
        }
        channel.writeAndFlush(buffer, promise: nil)
        stats.withLock {
            $0.batchesSent += UInt64(frames.count)
            $0.bytesSent += UInt64(bytes)
        }
    }

    // MARK: connection

    func start() { dial() }

    func dial() {
        guard !state.withLock({ $0.stopped }) else { return }
        let opened = NIODeadline.now()
        LeanDialer.dial(address, role: .raft, config: config, group: group, logger: logger,
                        onFrame: { _ in }, onWritable: { [weak self] in self?.scheduleDrain() })
            .whenComplete { result in
                switch result {
                case .success(let channel): self.up(channel, opened: opened)
                case .failure(let error): self.down(opened: opened, wasUp: false, error: error)
                }
            }
    }

    func up(_ channel: any Channel, opened: NIODeadline) {
        let reconnect = state.withLock { s -> Bool? in
            guard !s.stopped else { return nil }
            s.channel = channel
            defer { s.everConnected = true }
            return s.everConnected
        }
        guard let reconnect else {
            channel.close(promise: nil)
            return
        }
        stats.withLock {
            $0.connectedPeers += 1
            if reconnect { $0.streamReconnects += 1 }
        }
        logger.info("lean raft connection to peer up", metadata: ["peer": "\(peer)", "address": "\(address)"])
        // Open with an empty batch (a node heartbeat), ahead of anything queued.
        var greeting = channel.allocator.buffer(capacity: 16)
        LeanFrameCodec.encode(.raft, MessageCodec.encode(batch: []), into: &greeting)
        channel.writeAndFlush(greeting, promise: nil)
        stats.withLock { $0.batchesSent += 1 }
        scheduleDrain()
        channel.closeFuture.whenComplete { _ in
            self.state.withLock { s in
                if s.channel === channel { s.channel = nil }
            }
            self.stats.withLock { $0.connectedPeers -= 1 }
            self.down(opened: opened, wasUp: true, error: nil)
        }
    }

    func down(opened: NIODeadline, wasUp: Bool, error: (any Error)?) {
        let delay = state.withLock { s -> Double? in
            guard !s.stopped else { return nil }
            // A connection that lived a while restarts the backoff.
            if wasUp && NIODeadline.now() - opened > .seconds(5) { s.delayMs = Double(config.reconnectInitialMs) }
            let jitter = 1 + Double.random(in: -config.reconnectJitter...config.reconnectJitter)
            defer { s.delayMs = min(s.delayMs * 2, Double(config.reconnectMaxMs)) }
            return s.delayMs * jitter
        }
        guard let delay else { return }
        stats.withLock { $0.streamFailures += 1 }
        if let error { logger.debug("lean raft dial failed", metadata: ["peer": "\(peer)", "error": "\(error)"]) }
        onUnreachable(peer)
        let task = group.next().scheduleTask(in: .milliseconds(Int64(delay))) { self.dial() }
        state.withLock { s in
            if s.stopped { task.cancel() } else { s.reconnect = task }
        }
    }

    /// Stops redialing and closes the connection; returns once it is closed.
    func stop() async {
        let channel = state.withLock { s -> (any Channel)? in
            s.stopped = true
            s.reconnect?.cancel()
            s.reconnect = nil
            return s.channel
        }
        queue.close()
        if let channel { try? await channel.close() }
    }
}
