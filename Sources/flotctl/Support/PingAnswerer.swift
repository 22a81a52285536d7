import NIOCore

/// A channel handler at the head of a plaintext gRPC client pipeline (below the HTTP/2
/// handler) that answers the server's PINGs itself and passes every other byte on
/// unchanged; see `PingScanner` for why. Owns the scanner and the carried-over bytes of a
/// frame header split across reads. Lives on its channel's event loop only.
final class PingAnswerer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var scanner = PingScanner()
    private var carry: ByteBuffer?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if var head = carry {
            head.writeBuffer(&buffer)
            buffer = head
            carry = nil
        }
        let (pieces, carried) = buffer.withUnsafeReadableBytes { scanner.scan($0) }
        var acked = false
        for piece in pieces {
            switch piece {
            case .forward(let offset, let count):
                if let slice = buffer.getSlice(at: buffer.readerIndex + offset, length: count) {
                    context.fireChannelRead(wrapInboundOut(slice))
                }
            case .ack(let payload):
                var frame = context.channel.allocator.buffer(capacity: 17)
                frame.writeBytes(PingScanner.ackFrame(payload))
                context.write(wrapOutboundOut(frame), promise: nil)
                acked = true
            }
        }
        if acked { context.flush() }
        if carried > 0 {
            carry = buffer.getSlice(at: buffer.writerIndex - carried, length: carried)
        }
    }
}

extension EtcdSession {
    /// Installs a `PingAnswerer` at the head of each new connection's pipeline (the
    /// transport calls this from its channel initializer, before any byte is read).
    @Sendable static func installPingAnswerer(_ channel: any Channel) -> EventLoopFuture<Void> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(PingAnswerer(), position: .first)
        }
    }
}
