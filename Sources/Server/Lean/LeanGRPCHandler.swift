import GRPCCore
import NIOCore
import NIOHTTP2

/// A service the lean HTTP/2 path answers itself: which method paths it serves, and the
/// answer to one complete unary call.
protocol LeanUnaryService: Sendable {
    func serves(_ path: Substring) -> Bool
    /// Answers `call`. `respond` must be called exactly once, from any thread; it is cheapest
    /// when called on the connection's event loop before `handle` returns.
    func handle(_ call: LeanCall, respond: @escaping @Sendable (Result<ByteBuffer, LeanStatus>) -> Void)
}

/// The channel handler behind `NIOHTTP2Handler` (frame level, no per-stream child channels)
/// on one connection: it drives a `LeanConnection`, dispatches complete calls to the service,
/// writes responses, arms `grpc-timeout` deadlines and coalesces flushes per read batch. With
/// `onStream` set, streams of other paths are bridged to `GRPCServer` (`+Bridge.swift`). Owns
/// the connection's `LeanConnection`, deadline timers and bridged-stream entries; used only on
/// its event loop.
final class LeanGRPCHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    /// Fire as an inbound user event to close gracefully: GOAWAY, answer what is in flight, close.
    struct GracefulShutdown: Sendable {}

    private(set) var connection: LeanConnection
    private let service: any LeanUnaryService
    private var actions: [LeanConnection.Action] = []
    private var frames: [HTTP2Frame] = []
    private(set) var inReadBatch = false
    var pendingFlush = false
    /// A flush is queued on the event loop behind the bridged writes already queued.
    var flushScheduled = false
    private(set) var context: ChannelHandlerContext?
    private var timers: [HTTP2StreamID: Scheduled<Void>] = [:]
    private var closing = false
    /// Receives each stream handed to `GRPCServer`; nil: unknown paths answer UNIMPLEMENTED.
    let onStream: (@Sendable (LeanBridgedStream) -> Void)?
    /// The bridged streams still open on this connection.
    var bridged: [HTTP2StreamID: BridgeEntry] = [:]
    var remotePeer = "", localPeer = ""

    init(service: any LeanUnaryService, limits: LeanConnection.Limits,
         onStream: (@Sendable (LeanBridgedStream) -> Void)? = nil) {
        self.service = service
        self.onStream = onStream
        self.connection = LeanConnection(limits: limits, bridges: onStream != nil, serves: { [service] in service.serves($0) })
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        remotePeer = Self.peerName(context.channel.remoteAddress)
        localPeer = Self.peerName(context.channel.localAddress)
    }
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        for timer in timers.values { timer.cancel() }
        timers.removeAll()
        closeAllBridged(RPCError(code: .unavailable, message: "connection closed"))
    }

    func channelInactive(context: ChannelHandlerContext) {
        closeAllBridged(RPCError(code: .unavailable, message: "connection closed"))
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        inReadBatch = true
        let now = Int64(NIODeadline.now().uptimeNanoseconds)
        connection.receive(unwrapInboundIn(data), nowNanos: now, into: &actions)
        guard !actions.isEmpty else { return }
        var pending = actions
        actions = []
        for action in pending {
            switch action {
            case .write(let frame):
                context.write(wrapOutboundOut(frame), promise: nil)
                pendingFlush = true
            case .dispatch(let call):
                dispatch(call, nowNanos: now, context: context)
            case .open(let id, let path, let headers, let endStream):
                openBridged(id, path: path, headers: headers, endStream: endStream, context: context)
            case .bridgedData(let id, let bytes, let flowControlled, let endStream):
                receiveBridged(id, bytes, flowControlledBytes: flowControlled, endStream: endStream, context: context)
            }
        }
        pending.removeAll(keepingCapacity: true)
        if actions.isEmpty { actions = pending }  // reuse the storage
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        inReadBatch = false
        if pendingFlush {
            pendingFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let closed = event as? StreamClosedEvent {
            connection.streamClosed(closed.streamID)
            bridgedStreamClosed(closed.streamID, reason: closed.reason)
            timers.removeValue(forKey: closed.streamID)?.cancel()
            closeIfDrained(context: context)
        } else if event is GracefulShutdown {
            if !connection.goingAway {
                context.writeAndFlush(wrapOutboundOut(connection.goAway()), promise: nil)
            }
            closeIfDrained(context: context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // NIOHTTP2Handler has already answered protocol errors (GOAWAY / RST_STREAM); a
        // connection-level one leaves nothing to serve.
        if error is NIOHTTP2Errors.StreamError { return }
        context.close(promise: nil)
    }

    private func dispatch(_ call: LeanCall, nowNanos: Int64, context: ChannelHandlerContext) {
        let id = call.streamID
        if let deadline = call.deadlineNanos {
            guard deadline > nowNanos else {
                respond(to: id, with: .failure(.deadlineExceeded("context deadline exceeded")))
                return
            }
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            timers[id] = context.eventLoop.scheduleTask(deadline: .uptimeNanoseconds(UInt64(deadline))) {
                bound.value.timers[id] = nil
                bound.value.respond(to: id, with: .failure(.deadlineExceeded("context deadline exceeded")))
            }
        }
        let loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        service.handle(call) { result in
            if loop.inEventLoop {
                bound.value.respond(to: id, with: result)
            } else {
                loop.execute { bound.value.respond(to: id, with: result) }
            }
        }
    }

    private func respond(to id: HTTP2StreamID, with result: Result<ByteBuffer, LeanStatus>) {
        guard let context else { return }
        timers.removeValue(forKey: id)?.cancel()
        connection.respond(to: id, with: result, allocator: context.channel.allocator, into: &frames)
        guard !frames.isEmpty else { return }
        for frame in frames { context.write(wrapOutboundOut(frame), promise: nil) }
        frames.removeAll(keepingCapacity: true)
        // Answers resumed from other threads arrive as separate loop tasks; the ones queued
        // in the same tick share one flush (one write(2) and one wake-up of the client).
        scheduleFlush(context)
    }

    /// After GOAWAY, closes once no call is in flight. Not from inside the event that reported
    /// the last stream closed (that is NIOHTTP2Handler's write of our END_STREAM frame, not yet
    /// on the socket): on the next loop tick, after a final PING is written behind everything
    /// else, so the last answer reaches the client before the close.
    func closeIfDrained(context: ChannelHandlerContext) {
        guard connection.goingAway, connection.activeStreams == 0, !closing else { return }
        closing = true
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let context = bound.value
            let written = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(NIOAny(HTTP2Frame(streamID: .rootStream, payload: .ping(HTTP2PingData(withInteger: 0), ack: false))),
                                  promise: written)
            written.futureResult.whenComplete { _ in bound.value.close(promise: nil) }
        }
    }
}
