public import Base
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import Node
import Synchronization

/// The connection to ONE peer node: owns a long-lived `GRPCClient` (one HTTP/2
/// connection; the channel reconnects underneath), the bounded send queue, and the loop
/// that keeps one bidirectional Raft stream open — re-opening it with exponential backoff
/// and jitter after a failure and telling the handler the peer is unreachable. Snapshots
/// to this peer run as separate client-streaming RPCs on the same client.
final class PeerLink: Sendable {
    let peer: NodeID
    let address: PeerTransportConfig.Address
    let config: PeerTransportConfig
    let queue: SendQueue<[UInt8]>
    let client: GRPCClient<HTTP2ClientTransport.Posix>
    let stats: StatsBox
    let onUnreachable: @Sendable (NodeID) -> Void
    let logger: Logger
    /// Whether the Raft stream is up (has carried a frame since it was last opened).
    let connected = Atomic<Bool>(false)
    let everConnected = Atomic<Bool>(false)

    init(peer: NodeID, address: PeerTransportConfig.Address, config: PeerTransportConfig,
         stats: StatsBox, logger: Logger,
         onUnreachable: @escaping @Sendable (NodeID) -> Void) throws {
        self.peer = peer
        self.address = address
        self.config = config
        self.queue = SendQueue(capacity: config.sendQueueBatches)
        self.stats = stats
        self.logger = logger
        self.onUnreachable = onUnreachable
        let transport = try HTTP2ClientTransport.Posix(
            target: .ipv4(address: address.host, port: address.port),
            transportSecurity: .plaintext,
            config: .defaults { c in
                c.backoff = .init(initial: .milliseconds(config.reconnectInitialMs),
                                  max: .milliseconds(config.reconnectMaxMs), multiplier: 2,
                                  jitter: config.reconnectJitter)
                c.connection.keepalive = .init(time: .milliseconds(config.keepaliveIntervalMs),
                                               timeout: .milliseconds(config.keepaliveTimeoutMs),
                                               allowWithoutCalls: true)
                c.connection.maxIdleTime = nil
            })
        client = GRPCClient(transport: transport)
    }

    static var callOptions: CallOptions {
        var o = CallOptions.defaults
        o.waitForReady = false
        return o
    }

    /// Runs the client's connections and the Raft stream loop until cancelled.
    func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { try? await self.client.runConnections() }
            group.addTask { await self.streamLoop() }
            group.addTask {
                // Wait for cancellation, then let the client wind down.
                while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
                self.queue.close()
                self.client.beginGracefulShutdown()
            }
        }
    }

    func streamLoop() async {
        var delayMs = Double(config.reconnectInitialMs)
        while !Task.isCancelled {
            let opened = ContinuousClock.now
            do {
                try await runStream()
            } catch {
                if Task.isCancelled { break }
                logger.debug("raft stream to peer failed", metadata: ["peer": "\(peer)", "error": "\(error)"])
            }
            if Task.isCancelled { break }
            let wasConnected = connected.exchange(false, ordering: .acquiringAndReleasing)
            stats.withLock {
                $0.streamFailures += 1
                if wasConnected { $0.connectedPeers -= 1 }
            }
            onUnreachable(peer)
            // A stream that lived a while restarts the backoff.
            if ContinuousClock.now - opened > .seconds(5) { delayMs = Double(config.reconnectInitialMs) }
            let jitter = 1 + Double.random(in: -config.reconnectJitter...config.reconnectJitter)
            try? await Task.sleep(for: .milliseconds(Int(delayMs * jitter)))
            delayMs = min(delayMs * 2, Double(config.reconnectMaxMs))
        }
    }

    /// One Raft stream: writes queued frames until the stream fails or the task is cancelled.
    func runStream() async throws {
        let request = StreamingClientRequest<[UInt8]> { writer in
            // Open the stream with an empty batch (a node heartbeat) so it is established
            // (and the peer hears from us) before any Raft traffic is queued.
            try await writer.write(PeerFrame.encode(from: self.config.nodeID, batch: []))
            while let frames = await self.queue.next() {
                try await writer.write(contentsOf: frames)
                let bytes = frames.reduce(0) { $0 + $1.count }
                self.stats.withLock {
                    $0.batchesSent += UInt64(frames.count)
                    $0.bytesSent += UInt64(bytes)
                }
            }
            throw CancellationError()
        }
        try await client.bidirectionalStreaming(
            request: request, descriptor: PeerMethods.raft,
            serializer: RawBytesSerializer(), deserializer: RawBytesDeserializer(),
            options: Self.callOptions
        ) { response in
            // Up once the peer accepted the stream (its response headers arrived).
            if case .success = response.accepted { self.markConnected() }
            for try await _ in response.messages {}
        }
    }

    func markConnected() {
        guard !connected.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let reconnect = everConnected.exchange(true, ordering: .acquiringAndReleasing)
        stats.withLock {
            $0.connectedPeers += 1
            if reconnect { $0.streamReconnects += 1 }
        }
        logger.info("raft stream to peer up", metadata: ["peer": "\(peer)", "address": "\(address)"])
    }

    /// Queues one batch; a full queue drops its oldest frame.
    func enqueue(_ batch: [RangeMessage]) {
        if !queue.push(PeerFrame.encode(from: config.nodeID, batch: batch)) {
            stats.withLock { $0.batchesDropped += 1 }
        }
    }

    /// Streams a snapshot's chunks to the peer (throttled) and waits for its verdict.
    func sendSnapshot(header: SnapshotHeader, chunks: AsyncThrowingStream<[UInt8], any Error>) async throws {
        var metadata = Metadata()
        metadata.addString(String(config.nodeID.rawValue), forKey: PeerMethods.fromNodeKey)
        metadata.addBinary(MessageCodec.encode(header: header), forKey: PeerMethods.snapshotHeaderKey)
        let mbps = config.snapshotMBPerSecond
        let stats = self.stats
        let request = StreamingClientRequest<[UInt8]>(metadata: metadata) { writer in
            var throttle = SnapshotThrottle(megabytesPerSecond: mbps)
            for try await chunk in chunks {
                try await writer.write(chunk)
                stats.withLock { $0.snapshotBytesSent += UInt64(chunk.count) }
                let wait = throttle.consume(chunk.count)
                if wait > .zero { try await Task.sleep(for: wait) }
            }
        }
        var options = Self.callOptions
        options.waitForReady = true
        options.timeout = .seconds(3600)
        do {
            let verdict = try await client.clientStreaming(
                request: request, descriptor: PeerMethods.snapshot,
                serializer: RawBytesSerializer(), deserializer: RawBytesDeserializer(), options: options
            ) { response in try response.message }
            if !verdict.isEmpty { throw PeerTransportError.snapshotRejected(String(decoding: verdict, as: UTF8.self)) }
            stats.withLock { $0.snapshotsSent += 1 }
        } catch {
            stats.withLock { $0.snapshotsFailed += 1 }
            throw error
        }
    }
}

/// Errors of the peer transports.
public enum PeerTransportError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownPeer(NodeID)
    case stopped
    case snapshotRejected(String)
    case malformedSnapshotRequest(String)
    /// The snapshot connection closed before the receiver's verdict arrived.
    case snapshotConnectionLost

    public var description: String {
        switch self {
        case .unknownPeer(let n): "no address configured for peer \(n)"
        case .stopped: "peer transport stopped"
        case .snapshotRejected(let why): "snapshot rejected by the receiver: \(why)"
        case .malformedSnapshotRequest(let why): "malformed snapshot request: \(why)"
        case .snapshotConnectionLost: "snapshot connection closed before the receiver answered"
        }
    }
}
