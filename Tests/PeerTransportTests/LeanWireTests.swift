import Base
import Foundation
import NIOCore
import NIOPosix
import Node
import PeerTransport
import RaftCore
import Synchronization
import Testing

/// The bytes a raw test socket received, and whether it was closed.
final class RawInbox: Sendable {
    let bytes = Mutex<[UInt8]>([])
}

/// A raw TCP client or server connection for the wire tests: appends what it reads.
final class RawCollectHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let inbox: RawInbox
    init(_ inbox: RawInbox) { self.inbox = inbox }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var b = unwrapInboundIn(data)
        let read = b.readBytes(length: b.readableBytes) ?? []
        inbox.bytes.withLock { $0 += read }
    }
}

func rawConnect(port: Int) async throws -> (any Channel, RawInbox) {
    let inbox = RawInbox()
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .channelOption(.tcpOption(.tcp_nodelay), value: 1)
        .channelInitializer { ch in
            ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(RawCollectHandler(inbox)) }
        }
        .connect(host: "127.0.0.1", port: port).get()
    return (channel, inbox)
}

func wire(_ frames: [LeanFrame]) -> [UInt8] {
    var b = ByteBuffer()
    for f in frames { LeanFrameCodec.encode(f, into: &b) }
    return b.readBytes(length: b.readableBytes)!
}

/// A peer that greets every dialer once per role and then never says anything again (no
/// pongs, no answers): a black-holed or frozen node. Later dials of a role are closed.
final class SilentPeerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let shared: SilentPeer
    var done = false
    init(_ shared: SilentPeer) { self.shared = shared }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        var b = unwrapInboundIn(data)
        guard b.readableBytes >= 12, let bytes = b.readBytes(length: 12) else { return }
        done = true
        let role = bytes[11]
        guard shared.firstDial(role: role), let r = LeanHello.Role(rawValue: role) else {
            context.close(promise: nil)
            return
        }
        var out = context.channel.allocator.buffer(capacity: 32)
        LeanFrameCodec.encode(LeanHello(role: r, node: NodeID(2)).frame, into: &out)
        context.writeAndFlush(NIOAny(out), promise: nil)
    }
}

final class SilentPeer: Sendable {
    let roles = Mutex<Set<UInt8>>([])
    func firstDial(role: UInt8) -> Bool { roles.withLock { $0.insert(role).inserted } }
}

/// Rejects a snapshot after its first chunk, without reading the rest (tests only).
final class EarlyRejectingHandler: RaftTransportHandler, Sendable {
    func deliver(from node: NodeID, messages: [RangeMessage]) {}
    func peerUnreachable(_ node: NodeID) {}
    func receiveSnapshot(from node: NodeID, header: SnapshotHeader,
                         chunks: AsyncThrowingStream<[UInt8], any Error>) async throws {
        for try await _ in chunks { throw SnapshotFailure("early") }
    }
}

@Suite("lean peer transport: the wire", .serialized)
struct LeanWireTests {
    func leanNode2(_ handler: RecordingHandler) async throws -> (LeanPeerTransport, Int) {
        let port = freePort()
        let addrs: [NodeID: PeerTransportConfig.Address] = [NodeID(2): .init(host: "127.0.0.1", port: port)]
        let t = LeanPeerTransport(config: PeerTransportConfig(nodeID: NodeID(2), listen: addrs[NodeID(2)]!, peers: addrs))
        return (t, try await t.start(handler: handler))
    }

    @Test("Raft frames written in random TCP-level pieces arrive whole and in order", arguments: [UInt64(5), 6])
    func randomSplitsAtTheSocket(seed: UInt64) async throws {
        var rng = SeededGenerator(seed: seed)
        let hb = RecordingHandler()
        let (b, port) = try await leanNode2(hb)
        let (socket, inbox) = try await rawConnect(port: port)
        let batches: [[RangeMessage]] = (0..<60).map { i in
            (0..<Int.random(in: 0...3, using: &rng)).map { j in message(UInt64(i * 4 + j)) }
        }
        let bytes = wire([LeanHello(role: .raft, node: NodeID(1)).frame]
                         + batches.map { LeanFrame(.raft, MessageCodec.encode(batch: $0)) })
        var at = 0
        while at < bytes.count {
            let n = min(bytes.count - at, Int.random(in: 1...700, using: &rng))
            try await socket.writeAndFlush(ByteBuffer(bytes: bytes[at..<(at + n)]))
            at += n
            if Bool.random(using: &rng) { try await Task.sleep(for: .milliseconds(1)) }
        }
        #expect(await eventually { hb.batches.count == batches.count }, "seed \(seed): \(hb.batches.count) batches")
        #expect(hb.batches.map(\.1) == batches, "seed \(seed)")
        #expect(hb.batches.allSatisfy { $0.0 == NodeID(1) })
        // The listener greeted back with its own hello (it may still be on its way when the
        // batches have arrived).
        func greeting() -> LeanHello? {
            var buffer = ByteBuffer(bytes: inbox.bytes.withLock { $0 })
            guard let frame = (try? LeanFrameCodec.decode(&buffer, maxLength: 100, first: true)) ?? nil else { return nil }
            return try? LeanHello(frame)
        }
        #expect(await eventually { greeting() != nil }, "seed \(seed): no greeting")
        #expect(greeting() == LeanHello(role: .raft, node: NodeID(2)))
        try await socket.close()
        await b.stop()
    }

    @Test("garbage, oversize and foreign-protocol connections are closed; the listener keeps serving", arguments: [UInt64(9)])
    func garbageIsRefused(seed: UInt64) async throws {
        var rng = SeededGenerator(seed: seed)
        let hb = RecordingHandler()
        let (b, port) = try await leanNode2(hb)
        let hello = wire([LeanHello(role: .raft, node: NodeID(1)).frame])
        let attacks: [[UInt8]] = [
            Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [0, 0, 0, 4, 0, 0, 0, 0, 0],  // a gRPC peer
            hello + [0xF0, 0xFF, 0xFF, 0xFF, 2],  // ~4 GiB frame
            hello + [3, 0, 0, 0, 99, 1, 2],  // unknown kind
            hello + wire([LeanFrame(.raft, [7, 7, 7])]),  // a raft frame that is no batch
            hello + wire([LeanFrame(.snapshotChunk, [1])]),  // a frame of another role
            (0..<64).map { _ in UInt8.random(in: 0...255, using: &rng) },  // noise
        ]
        for (i, attack) in attacks.enumerated() {
            let (socket, _) = try await rawConnect(port: port)
            try await socket.writeAndFlush(ByteBuffer(bytes: attack))
            // The listener closes the connection (the test would hang here otherwise).
            try await socket.closeFuture.get()
            #expect(hb.batches.isEmpty, "attack \(i) delivered something")
        }
        // A truncated frame, then the dialer goes away.
        let (socket, _) = try await rawConnect(port: port)
        try await socket.writeAndFlush(ByteBuffer(bytes: hello + [50, 0, 0, 0, 2, 1, 2, 3]))
        try await socket.close()
        // A well-behaved dialer still gets through.
        let (good, _) = try await rawConnect(port: port)
        try await good.writeAndFlush(ByteBuffer(bytes: hello + wire([LeanFrame(.raft, MessageCodec.encode(batch: [message(1)]))])))
        #expect(await eventually { hb.batches.count == 1 })
        #expect(hb.batches.first?.1 == [message(1)])
        try await good.close()
        await b.stop()
    }

    @Test("a silent (black-holed) peer: the written call times out long before its deadline, then calls are unreachable",
          .timeLimit(.minutes(2)))
    func blackHoledPeer() async throws {
        let silent = SilentPeer()
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { ch in
                ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(SilentPeerHandler(silent)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = listener.localAddress!.port!
        var c = PeerTransportConfig(nodeID: NodeID(1), listen: .init(host: "127.0.0.1", port: 0),
                                    peers: [NodeID(2): .init(host: "127.0.0.1", port: port)])
        // Each connection of the silent peer lives ~2 s (interval + timeout): long enough for a
        // loaded machine to see it up and write the call on it.
        c.keepaliveIntervalMs = 1_000
        c.keepaliveTimeoutMs = 1_000
        c.reconnectInitialMs = 20
        c.reconnectMaxMs = 100
        let a = LeanPeerTransport(config: c)
        let ha = RecordingHandler()
        try await a.start(handler: ha)
        // The call and Raft connections are dialled independently, so they are not asked to be
        // up at the same instant; the Raft one is checked by being given up below.
        #expect(await eventually { a.isCallStreamConnected(to: NodeID(2)) })
        // Written, never answered: without liveness probing this would wait the full 10 minutes.
        await #expect(throws: NodeCallError.timeout(NodeID(2))) {
            try await a.call(NodeID(2), [1], timeoutMs: 600_000)
        }
        #expect(await eventually { !a.isCallStreamConnected(to: NodeID(2)) })
        await #expect(throws: NodeCallError.unreachable(NodeID(2))) { try await a.call(NodeID(2), [2], timeoutMs: 600_000) }
        #expect(await eventually { ha.unreachable.contains(NodeID(2)) }, "the silent Raft connection was never given up")
        #expect(a.stats.callsFailed >= 1)
        await a.stop()
        try await listener.close()
    }

    @Test("a throttled snapshot rejected after its first chunk: the verdict reaches the sender before it sent it all")
    func earlyRejection() async throws {
        let (a, b, _) = try makePair(.lean, snapshotMBps: 8)
        try await a.start(handler: RecordingHandler())
        try await b.start(handler: EarlyRejectingHandler())
        let chunk = [UInt8](repeating: 3, count: 256 * 1024)
        let total = 64 * chunk.count  // 16 MiB: 2 s at 8 MB/s
        await #expect(throws: PeerTransportError.snapshotRejected("\(SnapshotFailure("early"))")) {
            try await a.sendSnapshot(
                to: NodeID(2), header: SnapshotHeader(rangeID: RangeID(4), message: Message(type: .snapshot)),
                chunks: AsyncThrowingStream { c in
                    for _ in 0..<64 { c.yield(chunk) }
                    c.finish()
                })
        }
        #expect(a.stats.snapshotBytesSent < UInt64(total), "the sender sent all \(total) bytes after the rejection")
        #expect(a.stats.snapshotsFailed == 1 && b.stats.snapshotsFailed == 1)
        await a.stop()
        await b.stop()
    }

    @Test("lean and gRPC nodes do not understand each other, and neither hangs nor crashes")
    func mixedTransportsFailClearly() async throws {
        let addrs: [NodeID: PeerTransportConfig.Address] = [
            NodeID(1): .init(host: "127.0.0.1", port: freePort()),
            NodeID(2): .init(host: "127.0.0.1", port: freePort()),
        ]
        func config(_ n: UInt64) -> PeerTransportConfig {
            var c = PeerTransportConfig(nodeID: NodeID(n), listen: addrs[NodeID(n)]!, peers: addrs)
            c.reconnectInitialMs = 20
            c.reconnectMaxMs = 200
            return c
        }
        let lean = LeanPeerTransport(config: config(1))
        let grpc = try GRPCPeerTransport(config: config(2))
        let hl = RecordingHandler(), hg = RecordingHandler()
        try await lean.start(handler: hl)
        try await grpc.start(handler: hg)
        lean.send([NodeID(2): [message(1)]])
        grpc.send([NodeID(1): [message(2)]])
        #expect(await eventually { hl.unreachable.contains(NodeID(2)) })
        await #expect(throws: NodeCallError.unreachable(NodeID(2))) { try await lean.call(NodeID(2), [1], timeoutMs: 2_000) }
        await #expect(throws: NodeCallError.self) { try await grpc.call(NodeID(1), [1], timeoutMs: 2_000) }
        try await Task.sleep(for: .milliseconds(500))
        #expect(!lean.isConnected(to: NodeID(2)))
        #expect(hl.batches.isEmpty && hg.batches.isEmpty)
        await lean.stop()
        await grpc.stop()
    }
}
