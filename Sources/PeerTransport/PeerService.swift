import Base
import GRPCCore
import Logging
import Node

/// The server side of the peer port: hands inbound Raft frames and snapshot streams to
/// the node (`RaftTransportHandler`) and runs inbound node calls (`NodeCallHandler`),
/// answering them batched on the same stream. Stateless apart from the handlers it
/// forwards to.
struct PeerService: RegistrableRPCService {
    let handler: @Sendable () -> (any RaftTransportHandler)?
    let callHandler: @Sendable () -> (any NodeCallHandler)?
    /// Fired when the transport stops: the Raft and call stream handlers end their streams.
    let shutdown: ShutdownSignal
    let stats: StatsBox
    let logger: Logger

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(
            forMethod: PeerMethods.raft, deserializer: RawBytesDeserializer(), serializer: RawBytesSerializer()
        ) { request, _ in
            StreamingServerResponse<[UInt8]> { _ in
                try await raftStream(request.messages)
                return [:]
            }
        }
        router.registerHandler(
            forMethod: PeerMethods.snapshot, deserializer: RawBytesDeserializer(), serializer: RawBytesSerializer()
        ) { request, _ in
            StreamingServerResponse<[UInt8]> { writer in
                let verdict = await snapshot(request)
                try await writer.write(verdict)
                return [:]
            }
        }
        router.registerHandler(
            forMethod: PeerMethods.call, deserializer: RawBytesDeserializer(), serializer: RawBytesSerializer()
        ) { request, _ in
            StreamingServerResponse<[UInt8]> { writer in
                try await callStream(request.messages, writer)
                return [:]
            }
        }
    }

    /// One inbound call stream: runs each call in a task of its own (calls are independent
    /// and some wait: proposals, feed long polls) and writes the answers back coalesced —
    /// every answer ready when the writer comes round goes in one message.
    func callStream(_ messages: RPCAsyncSequence<[UInt8], any Error>, _ writer: RPCWriter<[UInt8]>) async throws {
        guard let handler = callHandler() else { throw RPCError(code: .unavailable, message: "node not started") }
        let answers = SendQueue<CallFrame.Item>(capacity: Int.max / 2)
        let stats = self.stats
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [shutdown] in
                await shutdown.wait()
                answers.close()
            }
            group.addTask {
                defer { answers.close() }
                for try await message in messages {
                    let (from, calls) = try CallFrame.decodeCalls(message)
                    for call in calls {
                        Task {
                            let answer = await handler.handleCall(from: from, call.bytes)
                            answers.push(CallFrame.Item(callID: call.callID, bytes: answer))
                        }
                    }
                }
            }
            while let ready = await answers.next() {
                let chunks = CallFrame.chunks(ready)
                // Counted before the write: a caller that got its answer sees it counted.
                stats.withLock {
                    $0.callsAnswered += UInt64(ready.count)
                    $0.callAnswerMessagesSent += UInt64(chunks.count)
                }
                for chunk in chunks { try await writer.write(CallFrame.encodeAnswers(chunk)) }
            }
            group.cancelAll()
            try await group.waitForAll()
        }
    }

    /// Delivers inbound Raft frames until the peer ends the stream or the transport stops.
    func raftStream(_ messages: RPCAsyncSequence<[UInt8], any Error>) async throws {
        let stats = self.stats, handler = self.handler
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [shutdown] in await shutdown.wait() }
            group.addTask {
                for try await frame in messages {
                    let (from, batch) = try PeerFrame.decode(frame)
                    stats.withLock {
                        $0.batchesReceived += 1
                        $0.bytesReceived += UInt64(frame.count)
                    }
                    handler()?.deliver(from: from, messages: batch)
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Runs one inbound snapshot; returns the (empty = success) verdict for the sender.
    func snapshot(_ request: StreamingServerRequest<[UInt8]>) async -> [UInt8] {
        guard let fromText = request.metadata[stringValues: PeerMethods.fromNodeKey].first(where: { _ in true }),
              let fromRaw = UInt64(fromText),
              let headerBytes = request.metadata[binaryValues: PeerMethods.snapshotHeaderKey].first(where: { _ in true }),
              let header = try? MessageCodec.decodeHeader(headerBytes)
        else { return Array("missing or malformed snapshot header".utf8) }
        // One chunk is read off the RPC per pull of the handler, so a receiver slower than the
        // network holds the sender back (HTTP/2 flow control) instead of buffering the difference.
        let pull = ChunkPull(request.messages.makeAsyncIterator())
        return await SnapshotReceipt.run(handler: handler(), from: NodeID(fromRaw), header: header, stats: stats,
                                         logger: logger, next: { try await pull.next() })
    }
}

/// The iterator of one inbound snapshot RPC's messages, pulled by the stream handed to the
/// handler. `@unchecked Sendable`: `AsyncThrowingStream(unfolding:)` calls its closure for one
/// `next()` at a time (a stream has one consumer), so the iterator is never used concurrently.
private final class ChunkPull: @unchecked Sendable {
    private var iterator: RPCAsyncSequence<[UInt8], any Error>.AsyncIterator

    init(_ iterator: RPCAsyncSequence<[UInt8], any Error>.AsyncIterator) { self.iterator = iterator }

    func next() async throws -> [UInt8]? { try await iterator.next() }
}
