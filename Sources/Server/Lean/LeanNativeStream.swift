import GRPCCore
import NIOCore
import SwiftProtobuf

/// A streaming method the lean transport runs itself instead of handing the stream to
/// `GRPCServer` (etcd's Watch and LeaseKeepAlive, see `ClientPort`). It gets the stream
/// whole: the inbound parts (request metadata first), the writer and the `ServerContext`.
/// It must end the stream with a status.
protocol LeanStreamService: Sendable {
    var descriptor: MethodDescriptor { get }
    func run(_ stream: LeanBridgedStream, context: ServerContext) async
}

/// A bidirectional protobuf method served natively on the lean transport: requests are
/// decoded from the stream's messages, and a `write(contentsOf:)` of many responses becomes
/// one length-prefixed byte run, one budget wait, one event-loop hop and one DATA write
/// (NIOHTTP2 splits it to the peer's frame size and window) instead of one of each per
/// response. The service method (`body`) is the same one `GRPCServer` would run, so every
/// answer is the same; what the stream writes around it follows `GRPCServer`'s executor:
/// response headers first, then the method's messages, then its status (`OK` when it
/// returns, an `RPCError`'s code, message and metadata when it throws one, UNKNOWN with an
/// empty message for any other error). A request that does not decode fails the method's
/// request sequence with grpc-swift-protobuf's INVALID_ARGUMENT text. Owns nothing.
struct LeanBidiMethod<Request: SwiftProtobuf.Message & Sendable, Response: SwiftProtobuf.Message & Sendable>: LeanStreamService {
    typealias Body = @Sendable (RPCAsyncSequence<Request, any Error>, RPCWriter<Response>, ServerContext) async throws -> Void
    let descriptor: MethodDescriptor
    let body: Body

    init(_ descriptor: MethodDescriptor, _ body: @escaping Body) {
        self.descriptor = descriptor
        self.body = body
    }

    func run(_ stream: LeanBridgedStream, context: ServerContext) async {
        let parts = LeanStreamWriter(stream: stream)
        do { try await parts.write(.metadata([:])) } catch { return }  // the stream is gone
        let requests = RPCAsyncSequence<Request, any Error>(wrapping: LeanRequestMessages<Request>(inbound: LeanInbound(stream: stream)))
        let responses = RPCWriter(wrapping: LeanMessageWriter<Response>(stream: stream))
        let body = self.body
        // The method runs in its own task so that the RPC's cancellation (client RST_STREAM,
        // connection lost) cancels it, as `GRPCServer` cancels a handler.
        let task = Task { try await body(requests, responses, context) }
        let result = await withTaskCancellationHandler {
            await withRPCCancellationHandler { await task.result } onCancelRPC: { task.cancel() }
        } onCancel: {
            task.cancel()
        }
        let status: Status
        var trailers: Metadata = [:]
        switch result {
        case .success: status = Status(code: .ok, message: "")
        case .failure(let error as RPCError):
            status = Status(code: Status.Code(error.code), message: error.message)
            trailers = error.metadata
        case .failure(let error as any RPCErrorConvertible):
            let rpc = RPCError(error)
            status = Status(code: Status.Code(rpc.code), message: rpc.message)
            trailers = rpc.metadata
        case .failure:
            status = Status(code: .unknown, message: "")
        }
        try? await parts.write(.status(status, trailers))
    }
}

/// The request messages of a native stream, decoded: the request metadata (the first part)
/// is skipped; a second set of metadata fails the sequence as `GRPCServer` does.
struct LeanRequestMessages<Message: SwiftProtobuf.Message & Sendable>: AsyncSequence, Sendable {
    typealias Element = Message
    typealias Failure = any Error
    let inbound: LeanInbound

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: LeanInbound.AsyncIterator
        var sawMetadata = false

        mutating func next() async throws -> Message? {
            while let part = try await base.next() {
                switch part {
                case .metadata:
                    guard !sawMetadata else {
                        throw RPCError(code: .internalError, message: """
                            Server received an extra set of metadata. Only one set of metadata may be received \
                            at the start of the RPC. This is likely to be caused by a misbehaving client.
                            """)
                    }
                    sawMetadata = true
                case .message(let bytes):
                    do {
                        return try Message(serializedBytes: Array(bytes.buffer.readableBytesView))
                    } catch {
                        throw RPCError(code: .invalidArgument, message: "Can't deserialize to message of type \(Message.self).",
                                       cause: error)
                    }
                }
            }
            return nil
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: inbound.makeAsyncIterator()) }
}

/// The response writer of a native stream: the messages of one `write(contentsOf:)` are
/// serialized into one length-prefixed run, which takes its size from the stream's outbound
/// budget (waiting while a slow reader holds it, see `LeanBridgedStream`) and goes to the
/// connection in one event-loop hop as one DATA write.
struct LeanMessageWriter<Message: SwiftProtobuf.Message & Sendable>: RPCWriterProtocol {
    typealias Element = Message
    let stream: LeanBridgedStream

    func write(_ element: Message) async throws {
        try await write(contentsOf: CollectionOfOne(element))
    }

    func write(contentsOf elements: some Sequence<Message>) async throws {
        var body = ByteBuffer()
        for message in elements {
            let bytes: [UInt8]
            do {
                bytes = try message.serializedBytes()
            } catch {
                throw RPCError(code: .invalidArgument, message: "Can't serialize message of type \(Message.self).", cause: error)
            }
            body.writeInteger(UInt8(0))
            body.writeInteger(UInt32(bytes.count))
            body.writeBytes(bytes)
        }
        guard body.readableBytes > 0 else { return }
        let size = body.readableBytes
        try await stream.acquireBudget(size)
        let stream = self.stream, framed = body
        stream.loop.execute { stream.handler.value.writeFramed(stream.id, framed, bytes: size, stream: stream) }
    }
}
