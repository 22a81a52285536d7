import Logging
import NIOCore

/// The dialing side of one lean peer connection, on the event loop: sends our hello, checks
/// the listener's hello (completing `greeted`), answers pings, hands every other frame to
/// `onFrame`, and probes liveness — a ping every `keepaliveInterval`, closing the
/// connection when nothing was read for `keepaliveInterval + keepaliveTimeout` (a killed or
/// black-holed peer). Owns the connection's keepalive timer.
final class LeanDialHandler: ChannelInboundHandler {
    typealias InboundIn = LeanFrame
    typealias OutboundOut = ByteBuffer

    let hello: LeanHello
    let greeted: EventLoopPromise<Void>
    let onFrame: @Sendable (LeanFrame) -> Void
    let onWritable: @Sendable () -> Void
    let keepaliveInterval: TimeAmount
    let keepaliveTimeout: TimeAmount
    let logger: Logger
    let peerDescription: String
    var settled = false
    var failed = false
    var lastRead = NIODeadline.now()
    var timer: RepeatedTask?

    init(hello: LeanHello, greeted: EventLoopPromise<Void>, keepaliveIntervalMs: Int, keepaliveTimeoutMs: Int,
         logger: Logger, peerDescription: String,
         onFrame: @escaping @Sendable (LeanFrame) -> Void, onWritable: @escaping @Sendable () -> Void) {
        self.hello = hello
        self.greeted = greeted
        self.keepaliveInterval = .milliseconds(Int64(keepaliveIntervalMs))
        self.keepaliveTimeout = .milliseconds(Int64(keepaliveTimeoutMs))
        self.logger = logger
        self.peerDescription = peerDescription
        self.onFrame = onFrame
        self.onWritable = onWritable
    }

    func channelActive(context: ChannelHandlerContext) {
        context.channel.writeFrames([hello.frame])
        lastRead = .now()
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let channel = context.channel
        timer = context.eventLoop.scheduleRepeatedTask(initialDelay: keepaliveInterval, delay: keepaliveInterval) { _ in
            bound.value.probe(channel)
        }
        context.fireChannelActive()
    }

    func probe(_ channel: any Channel) {
        if NIODeadline.now() - lastRead > keepaliveInterval + keepaliveTimeout {
            logger.warning("lean peer connection silent; closing it", metadata: ["peer": "\(peerDescription)"])
            channel.close(promise: nil)
        } else {
            channel.writeFrames([LeanFrame(.ping)])
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastRead = .now()
        let frame = unwrapInboundIn(data)
        guard settled else {
            do {
                let theirs = try LeanHello(frame)
                guard theirs.role == hello.role else { throw LeanFrameError.notLean("role \(theirs.role) answered for \(hello.role)") }
                settled = true
                greeted.succeed(())
            } catch {
                fail(context, error)
            }
            return
        }
        switch frame.kind {
        case .ping: context.channel.writeFrames([LeanFrame(.pong)])
        case .pong: break
        default: onFrame(frame)
        }
    }

    func fail(_ context: ChannelHandlerContext, _ error: any Error) {
        guard !failed else { return }
        failed = true
        if !settled {
            settled = true
            greeted.fail(error)
        }
        if error is LeanFrameError {
            logger.error("lean peer connection refused", metadata: ["peer": "\(peerDescription)", "error": "\(error)"])
        }
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context, error)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { onWritable() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        if !settled {
            settled = true
            greeted.fail(ChannelError.ioOnClosedChannel)
        }
        context.fireChannelInactive()
    }
}
