import NIOCore

/// The NIO stage that cuts the inbound byte stream into `LeanFrame`s (via the pure
/// `LeanFrameCodec`) on the event loop. The first frame must be a hello; a stream that
/// ends inside a frame, an oversize length or an unknown kind is an error (the connection
/// is closed by the handler after it). Owns the "first frame" flag.
final class LeanFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = LeanFrame
    let maxLength: Int
    var first = true

    init(maxLength: Int) { self.maxLength = maxLength }

    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try LeanFrameCodec.decode(&buffer, maxLength: maxLength, first: first) else { return .needMoreData }
        first = false
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0 { throw LeanFrameError.truncated(bufferedBytes: buffer.readableBytes) }
        return .needMoreData
    }
}

extension Channel {
    /// Writes `frames` (one buffer) and flushes once.
    func writeFrames(_ frames: [LeanFrame]) {
        var buffer = allocator.buffer(capacity: frames.reduce(0) { $0 + 5 + $1.payload.count })
        for f in frames { LeanFrameCodec.encode(f, into: &buffer) }
        writeAndFlush(buffer, promise: nil)
    }
}
