import Foundation
import GRPCCore
import NIOCore
import NIOHTTP2
import Synchronization

/// The bytes of one gRPC message on the lean transport: a `ByteBuffer` slice of the frames
/// it arrived in (inbound) or the serialized message (outbound). No copy on either path.
struct LeanBytes: GRPCContiguousBytes, Sendable, Hashable {
    var buffer: ByteBuffer

    init(_ buffer: ByteBuffer) { self.buffer = buffer }
    init(repeating byte: UInt8, count: Int) { buffer = ByteBuffer(repeating: byte, count: count) }
    init<Bytes: Sequence>(_ sequence: Bytes) where Bytes.Element == UInt8 { buffer = ByteBuffer(bytes: sequence) }
    var count: Int { buffer.readableBytes }
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withUnsafeReadableBytes(body)
    }
    mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withUnsafeMutableReadableBytes(body)
    }
}

/// One HTTP/2 stream handed from the lean transport to `GRPCServer` (every method the lean
/// path does not answer itself: Watch, Lease, Cluster, Maintenance, Admin, unknown paths).
/// Owns what crosses threads: the inbound part queue, the outbound byte budget (bytes written
/// to the connection whose write has not completed: waiting for HTTP/2 flow-control window or
/// the socket), the writer waiting for that budget, and the RPC's cancellation handle. The
/// frames themselves are written by the connection's `LeanGRPCHandler` on its event loop.
final class LeanBridgedStream: Sendable {
    /// Outbound bytes a stream may have in flight before its writer waits.
    static let outboundBudgetBytes = 256 * 1024

    let id: HTTP2StreamID
    let descriptor: MethodDescriptor
    let remotePeer: String
    let localPeer: String
    /// The request carried `grpc-timeout` (such streams always go to `GRPCServer`, which enforces it).
    let timed: Bool
    let loop: any EventLoop
    let handler: NIOLoopBound<LeanGRPCHandler>
    let inbound: AsyncThrowingStream<RPCRequestPart<LeanBytes>, any Error>
    let inboundSink: AsyncThrowingStream<RPCRequestPart<LeanBytes>, any Error>.Continuation
    private let state = Mutex(State())

    private struct State {
        var outstandingBytes = 0
        var peakOutstandingBytes = 0
        var waiters: [CheckedContinuation<Void, any Error>] = []
        /// Set when the stream closed (reset, connection lost) before the RPC ended it.
        var closedError: RPCError?
        var handle: ServerContext.RPCCancellationHandle?
    }

    init(id: HTTP2StreamID, descriptor: MethodDescriptor, remotePeer: String, localPeer: String, timed: Bool = false,
         handler: NIOLoopBound<LeanGRPCHandler>, loop: any EventLoop) {
        self.id = id
        self.descriptor = descriptor
        self.remotePeer = remotePeer
        self.localPeer = localPeer
        self.timed = timed
        self.handler = handler
        self.loop = loop
        (inbound, inboundSink) = AsyncThrowingStream.makeStream(of: RPCRequestPart<LeanBytes>.self)
    }

    /// Runs the RPC: `GRPCServer`'s stream handler with this stream's inbound parts and writer.
    func run(_ streamHandler: @Sendable (RPCStream<LeanServerTransport.Inbound, LeanServerTransport.Outbound>,
                                         ServerContext) async -> Void) async {
        await runWithContext { context in
            let rpc = RPCStream(descriptor: descriptor,
                                inbound: RPCAsyncSequence(wrapping: LeanInbound(stream: self)),
                                outbound: RPCWriter.Closable(wrapping: LeanStreamWriter(stream: self)))
            await streamHandler(rpc, context)
        }
    }

    /// Runs the RPC on a method the transport serves itself (`LeanStreamService`).
    func run(native service: any LeanStreamService) async {
        await runWithContext { context in await service.run(self, context: context) }
    }

    /// Runs `body` with the RPC's `ServerContext`, its cancellation handle wired to this stream.
    private func runWithContext(_ body: (ServerContext) async -> Void) async {
        await withServerContextRPCCancellationHandle { handle in
            let closed = state.withLock { s -> Bool in
                s.handle = handle
                return s.closedError != nil
            }
            if closed { handle.cancel() }
            await body(ServerContext(descriptor: descriptor, remotePeer: remotePeer, localPeer: localPeer,
                                     cancellation: handle))
        }
        // A handler that returned without a status (it should not) must not leave the stream open.
        loop.execute { [self] in handler.value.bridgedHandlerReturned(id) }
    }

    // MARK: outbound budget (any thread)

    /// `bytes` left the process (or were dropped with the stream): wake the writer.
    func release(_ bytes: Int) {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, any Error>] in
            s.outstandingBytes -= bytes
            defer { s.waiters = [] }
            return s.waiters
        }
        // One writer per stream: it takes the budget freed here (or an exception when closed).
        for w in waiters { w.resume() }
    }

    var closedError: RPCError? { state.withLock { $0.closedError } }

    /// The most outbound bytes this stream ever had in flight (tests: the slow-reader bound).
    var peakOutstandingBytes: Int { state.withLock { $0.peakOutstandingBytes } }

    // MARK: closing (event loop)

    /// The stream ended without the RPC's status (client RST_STREAM, connection lost, stream
    /// error): fail the inbound parts and any writer, and fire the RPC's cancellation.
    func close(_ error: RPCError) {
        let (waiters, handle) = state.withLock { s -> ([CheckedContinuation<Void, any Error>], ServerContext.RPCCancellationHandle?) in
            guard s.closedError == nil else { return ([], nil) }
            s.closedError = error
            defer { s.waiters = [] }
            return (s.waiters, s.handle)
        }
        // The handle first: finishing the inbound wakes the handler, which may leave its
        // `withRPCCancellationHandler` scope (removing its handler) before a later cancel.
        handle?.cancel()
        inboundSink.finish(throwing: error)
        for w in waiters { w.resume(throwing: error) }
    }
}

/// The inbound parts of a bridged stream. Each message consumed is reported to the
/// connection, which returns its bytes as stream flow-control credit: a handler that stops
/// reading stops the client after one stream window.
struct LeanInbound: AsyncSequence, Sendable {
    typealias Element = RPCRequestPart<LeanBytes>
    typealias Failure = any Error
    let stream: LeanBridgedStream

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<RPCRequestPart<LeanBytes>, any Error>.Iterator
        let stream: LeanBridgedStream

        mutating func next() async throws -> RPCRequestPart<LeanBytes>? {
            let part = try await base.next()
            if case .message(let bytes) = part {
                let consumed = bytes.count + 5
                let stream = self.stream
                stream.loop.execute { stream.handler.value.bridgedConsumed(stream.id, bytes: consumed) }
            }
            return part
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: stream.inbound.makeAsyncIterator(), stream: stream) }
}

/// The response writer of a bridged stream: each part is written as HTTP/2 frames on the
/// connection's event loop; a message waits first for the stream's outbound budget, so a
/// slow reader holds at most `LeanBridgedStream.outboundBudgetBytes` (plus one message) here.
struct LeanStreamWriter: ClosableRPCWriterProtocol {
    typealias Element = RPCResponsePart<LeanBytes>
    let stream: LeanBridgedStream

    func write(_ element: RPCResponsePart<LeanBytes>) async throws {
        let bytes: Int
        if case .message(let m) = element {
            bytes = m.count + 5
            try await stream.acquireBudget(bytes)
        } else {
            bytes = 0
            if let error = stream.closedError { throw error }
        }
        let stream = self.stream
        stream.loop.execute { stream.handler.value.writeBridged(stream.id, element, bytes: bytes, stream: stream) }
    }

    func write(contentsOf elements: some Sequence<RPCResponsePart<LeanBytes>>) async throws {
        for element in elements { try await write(element) }
    }

    func finish() async {}

    func finish(throwing error: any Error) async {
        let status: Status
        if let rpc = error as? RPCError {
            status = Status(code: Status.Code(rpc.code), message: rpc.message)
        } else {
            status = Status(code: .unknown, message: "\(error)")
        }
        try? await write(.status(status, [:]))
    }
}

extension LeanBridgedStream {
    /// Takes `bytes` of the outbound budget, waiting while the stream has too much in flight.
    func acquireBudget(_ bytes: Int) async throws {
        while true {
            let granted = try state.withLock { s -> Bool in
                if let error = s.closedError { throw error }
                if s.outstandingBytes == 0 || s.outstandingBytes + bytes <= Self.outboundBudgetBytes {
                    s.outstandingBytes += bytes
                    s.peakOutstandingBytes = max(s.peakOutstandingBytes, s.outstandingBytes)
                    return true
                }
                return false
            }
            if granted { return }
            try await waitForRelease(bytes)
        }
    }

    /// Suspends until budget for `bytes` is free again or the stream closes.
    private func waitForRelease(_ bytes: Int) async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            let resumeNow = state.withLock { s -> Result<Void, RPCError>? in
                if let error = s.closedError { return .failure(error) }
                if s.outstandingBytes == 0 || s.outstandingBytes + bytes <= Self.outboundBudgetBytes { return .success(()) }
                s.waiters.append(c)
                return nil
            }
            if let resumeNow { c.resume(with: resumeNow) }
        }
    }
}
