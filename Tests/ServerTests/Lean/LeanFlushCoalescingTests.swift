import NIOCore
import NIOEmbedded
import NIOHTTP2
@testable import Server
import Synchronization
import Testing

/// Answers that reach the lean handler outside a read batch (from the tasks that ran the
/// calls) share one flush per event-loop tick instead of one flush each.
@Suite struct LeanFlushCoalescingTests {
    /// Holds every call's responder until the test answers it.
    final class HeldService: LeanUnaryService {
        let held = Mutex<[@Sendable (Result<ByteBuffer, LeanStatus>) -> Void]>([])
        func serves(_ path: Substring) -> Bool { path == LeanConnectionTests.path }
        func handle(_ call: LeanCall, respond: @escaping @Sendable (Result<ByteBuffer, LeanStatus>) -> Void) {
            held.withLock { $0.append(respond) }
        }
    }

    /// Counts the flushes that reach the socket end of the pipeline.
    final class FlushCounter: ChannelOutboundHandler {
        typealias OutboundIn = HTTP2Frame
        var flushes = 0
        var frames: [HTTP2Frame] = []
        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            frames.append(unwrapOutboundIn(data))
            promise?.succeed()
        }
        func flush(context: ChannelHandlerContext) { flushes += 1 }
    }

    @Test func answersOfOneTickShareOneFlush() throws {
        let service = HeldService()
        let counter = FlushCounter()
        let channel = EmbeddedChannel(handlers: [counter, LeanGRPCHandler(service: service, limits: LeanConnectionTests.limits)])
        for id in [1, 3, 5] {
            try channel.writeInbound(LeanConnectionTests.requestHeaders(id))
            try channel.writeInbound(LeanConnectionTests.data(id, LeanConnectionTests.framed([UInt8(id)]), endStream: true))
        }
        let responders = service.held.withLock { $0 }
        #expect(responders.count == 3)
        let flushesBefore = counter.flushes
        let framesBefore = counter.frames.count

        // Three answers in one tick: written at once, flushed once when the tick's tasks run.
        for (i, respond) in responders.enumerated() { respond(.success(ByteBuffer(bytes: [UInt8(i)]))) }
        #expect(counter.frames.count == framesBefore + 9)  // HEADERS, DATA, trailers each
        #expect(counter.flushes == flushesBefore)
        channel.embeddedEventLoop.run()
        #expect(counter.flushes == flushesBefore + 1)

        // A later answer gets its own flush: nothing waits beyond the tick.
        try channel.writeInbound(LeanConnectionTests.requestHeaders(7))
        try channel.writeInbound(LeanConnectionTests.data(7, LeanConnectionTests.framed([7]), endStream: true))
        let last = service.held.withLock { $0.last! }
        let flushesAfterRead = counter.flushes
        last(.failure(LeanStatus(code: 5, message: "not found")))
        channel.embeddedEventLoop.run()
        #expect(counter.flushes == flushesAfterRead + 1)
        _ = try? channel.finish()
    }

    /// An answer given while the handler is inside a read batch rides that batch's flush.
    @Test func answerInsideAReadBatchRidesItsFlush() throws {
        final class AtOnce: LeanUnaryService {
            func serves(_ path: Substring) -> Bool { path == LeanConnectionTests.path }
            func handle(_ call: LeanCall, respond: @escaping @Sendable (Result<ByteBuffer, LeanStatus>) -> Void) {
                respond(.success(call.message))
            }
        }
        let counter = FlushCounter()
        let channel = EmbeddedChannel(handlers: [counter, LeanGRPCHandler(service: AtOnce(), limits: LeanConnectionTests.limits)])
        try channel.writeInbound(LeanConnectionTests.requestHeaders(1))
        let before = counter.flushes
        try channel.writeInbound(LeanConnectionTests.data(1, LeanConnectionTests.framed([1, 2]), endStream: true))
        #expect(counter.flushes == before + 1)
        channel.embeddedEventLoop.run()
        #expect(counter.flushes == before + 1)
        _ = try? channel.finish()
    }
}
