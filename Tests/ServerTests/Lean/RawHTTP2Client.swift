import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
@testable import Server
import Synchronization

/// A frame-level HTTP/2 client for the lean transport tests: it writes exactly the frames a
/// test builds (random DATA splits, RST_STREAM) and records every frame the server sends.
/// The connection window is credited once, generously, at connect; stream windows only when a
/// test sends WINDOW_UPDATE, so a stream whose client never does is a reader that stopped.
final class RawHTTP2Client: Sendable {
    let channel: any Channel
    private let box: FrameBox

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTP2Frame
        let sink: @Sendable (HTTP2Frame) -> Void
        init(sink: @escaping @Sendable (HTTP2Frame) -> Void) { self.sink = sink }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { sink(unwrapInboundIn(data)) }
    }

    private init(channel: any Channel, box: FrameBox) {
        self.channel = channel
        self.box = box
    }

    static func connect(port: Int, initialWindow: Int = 1 << 20) async throws -> RawHTTP2Client {
        let box = FrameBox()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOHTTP2Handler(
                        mode: .client, initialSettings: [HTTP2Setting(parameter: .initialWindowSize, value: initialWindow),
                                                         HTTP2Setting(parameter: .maxFrameSize, value: 1 << 14)]))
                    try channel.pipeline.syncOperations.addHandler(Collector { box.append($0) })
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let client = RawHTTP2Client(channel: channel, box: box)
        // Connection-level credit up front, so only stream windows (the tests' subject) bind.
        try await client.send([HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: 64 << 20))])
        return client
    }

    /// Every frame received, in order.
    private final class FrameBox: Sendable {
        let frames = Mutex<[HTTP2Frame]>([])
        func append(_ frame: HTTP2Frame) { frames.withLock { $0.append(frame) } }
    }

    func send(_ frames: [HTTP2Frame]) async throws {
        for frame in frames { channel.write(frame, promise: nil) }
        try await channel.writeAndFlush(HTTP2Frame(streamID: .rootStream, payload: .ping(HTTP2PingData(withInteger: 7), ack: false)))
    }

    func close() async { try? await channel.close() }

    var frames: [HTTP2Frame] { box.frames.withLock { $0 } }

    /// Waits (up to `timeout`) until `done` holds for the frames received so far.
    @discardableResult
    func wait(timeout: Duration = .seconds(20), until done: ([HTTP2Frame]) -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if done(frames) { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return done(frames)
    }

    static func requestHeaders(_ id: HTTP2StreamID, path: String, extra: [(String, String)] = []) -> HTTP2Frame {
        var h: HPACKHeaders = [":method": "POST", ":scheme": "http", ":path": path, ":authority": "localhost",
                               "content-type": "application/grpc", "te": "trailers"]
        for (name, value) in extra { h.add(name: name, value: value) }
        return HTTP2Frame(streamID: id, payload: .headers(.init(headers: h)))
    }

    /// `messages` gRPC-framed and cut into DATA frames at random points (`rng`).
    static func dataFrames<R: RandomNumberGenerator>(_ id: HTTP2StreamID, _ messages: [[UInt8]], endStream: Bool,
                                                     using rng: inout R) -> [HTTP2Frame] {
        var bytes = ByteBuffer()
        for m in messages { GRPCMessageReader.write(ByteBuffer(bytes: m), into: &bytes) }
        var frames: [HTTP2Frame] = []
        while bytes.readableBytes > 0 {
            let n = min(bytes.readableBytes, Int.random(in: 1...max(1, bytes.readableBytes), using: &rng))
            let slice = bytes.readSlice(length: n)!
            frames.append(HTTP2Frame(streamID: id, payload: .data(.init(data: .byteBuffer(slice)))))
        }
        if endStream { frames.append(HTTP2Frame(streamID: id, payload: .data(.init(data: .byteBuffer(ByteBuffer()), endStream: true)))) }
        return frames
    }

    /// The gRPC messages the server sent on stream `id` so far.
    func messages(on id: HTTP2StreamID) -> [[UInt8]] {
        var reader = GRPCMessageReader(maxMessageBytes: 64 << 20)
        var out: [[UInt8]] = []
        for frame in frames where frame.streamID == id {
            if case .data(let d) = frame.payload, case .byteBuffer(let b) = d.data { reader.append(b) }
        }
        while let m = try? reader.next() { out.append(Array(m.readableBytesView)) }
        return out
    }

    /// The `grpc-status` of stream `id`, nil until its trailers arrived.
    func status(on id: HTTP2StreamID) -> Int? {
        for frame in frames where frame.streamID == id {
            if case .headers(let h) = frame.payload, h.endStream, let s = h.headers.first(name: "grpc-status") { return Int(s) }
        }
        return nil
    }

    func wasReset(_ id: HTTP2StreamID) -> Bool {
        frames.contains { if case .rstStream = $0.payload { return $0.streamID == id } else { return false } }
    }

    func sawGoAway() -> Bool {
        frames.contains { if case .goAway = $0.payload { return true } else { return false } }
    }
}
