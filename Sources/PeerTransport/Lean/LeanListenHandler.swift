import Base
import Logging
import Node
import NIOCore

/// The listening side of one accepted lean peer connection, on the event loop. The first
/// frame must be a hello (answered with ours); it fixes the connection's role and peer:
/// - `raft`: each batch is decoded and handed to `RaftTransportHandler.deliver` right
///   here on the event loop (the node enqueues it into its mailbox);
/// - `call`: each call goes to `NodeCallHandler.handleCall(from:_:answer:)` (the node answers
///   proposals and fresh reads from its poll loop, other calls in a task); answers go back through an
///   `AnswerOutbox` (coalesced: one write and flush per event-loop turn);
/// - `snapshot`: the header starts `receiveSnapshot` in a task, chunks go through a
///   bounded `ChunkInbox`, and the verdict is written back as `snapshotResult`.
/// Pings are answered with pongs. A protocol error logs and closes this connection only.
final class LeanListenHandler: ChannelInboundHandler {
    typealias InboundIn = LeanFrame
    typealias OutboundOut = ByteBuffer

    let context: LeanListenContext
    var peer: NodeID?
    var role: LeanHello.Role?
    var outbox: AnswerOutbox?
    var inbox: ChunkInbox?
    var refused = false

    init(context: LeanListenContext) { self.context = context }

    func channelRead(context ctx: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        do {
            guard let role, let peer else { return try greet(ctx, frame) }
            switch (role, frame.kind) {
            case (_, .ping): ctx.channel.writeFrames([LeanFrame(.pong)])
            case (_, .pong): break
            case (.raft, .raft): try deliver(peer, frame.payload)
            case (.call, .calls): try runCalls(frame.payload)
            case (.snapshot, .snapshotHeader): try startSnapshot(ctx.channel, peer, frame.payload)
            case (.snapshot, .snapshotChunk):
                guard let inbox else { throw LeanFrameError.notLean("snapshot chunk before its header") }
                inbox.push(frame.payload)
            case (.snapshot, .snapshotEnd):
                guard let inbox else { throw LeanFrameError.notLean("snapshot end before its header") }
                inbox.finish()
            default:
                throw LeanFrameError.notLean("frame kind \(frame.kind) on a \(role) connection")
            }
        } catch {
            refuse(ctx, error)
        }
    }

    func greet(_ ctx: ChannelHandlerContext, _ frame: LeanFrame) throws {
        let hello = try LeanHello(frame)
        peer = hello.node
        role = hello.role
        ctx.channel.writeFrames([LeanHello(role: hello.role, node: context.nodeID).frame])
        if hello.role == .call {
            guard context.callHandler() != nil else { throw PeerTransportError.stopped }
            outbox = AnswerOutbox(channel: ctx.channel, stats: context.stats)
        }
    }

    func deliver(_ peer: NodeID, _ payload: [UInt8]) throws {
        let batch = try MessageCodec.decodeBatch(payload)
        context.stats.withLock {
            $0.batchesReceived += 1
            $0.bytesReceived += UInt64(payload.count + 5)
        }
        context.handler()?.deliver(from: peer, messages: batch)
    }

    func runCalls(_ payload: [UInt8]) throws {
        let (from, calls) = try CallFrame.decodeCalls(payload)
        guard let handler = context.callHandler(), let outbox else { return }
        for call in calls {
            // The handler answers hot calls without a task (`NodeHost`: from its poll loop).
            handler.handleCall(from: from, call.bytes) { answer in
                outbox.push(CallFrame.Item(callID: call.callID, bytes: answer))
            }
        }
    }

    func startSnapshot(_ channel: any Channel, _ peer: NodeID, _ payload: [UInt8]) throws {
        guard inbox == nil else { throw LeanFrameError.notLean("second snapshot header on one connection") }
        let header = try MessageCodec.decodeHeader(payload)
        let inbox = ChunkInbox(channel: channel)
        self.inbox = inbox
        let context = self.context
        Task {
            let verdict = await context.receiveSnapshot(from: peer, header: header, inbox: inbox)
            inbox.abandon()
            channel.writeFrames([LeanFrame(.snapshotResult, verdict)])
        }
    }

    func refuse(_ ctx: ChannelHandlerContext, _ error: any Error) {
        guard !refused else { return }
        refused = true
        context.logger.error("lean peer connection closed on a protocol error", metadata: [
            "remote": "\(ctx.remoteAddress.map { "\($0)" } ?? "?")", "peer": "\(peer.map { "\($0)" } ?? "?")",
            "error": "\(error)",
        ])
        inbox?.finish(error)
        ctx.close(promise: nil)
    }

    func errorCaught(context ctx: ChannelHandlerContext, error: any Error) {
        refuse(ctx, error)
    }

    func channelInactive(context ctx: ChannelHandlerContext) {
        inbox?.finish(ChannelError.ioOnClosedChannel)
        ctx.fireChannelInactive()
    }
}

/// What every accepted connection's handler shares: this node's ID, the node handlers (set
/// once the node exists), the counters and the logger. Immutable.
struct LeanListenContext: Sendable {
    let nodeID: NodeID
    let handler: @Sendable () -> (any RaftTransportHandler)?
    let callHandler: @Sendable () -> (any NodeCallHandler)?
    let stats: StatsBox
    let logger: Logger

    /// Runs one inbound snapshot; returns the verdict (empty = installed).
    func receiveSnapshot(from peer: NodeID, header: SnapshotHeader, inbox: ChunkInbox) async -> [UInt8] {
        await SnapshotReceipt.run(handler: handler(), from: peer, header: header, stats: stats, logger: logger,
                                  next: { try await inbox.next() })
    }
}
