import Base
import Logging
import Node
import NIOCore
import Synchronization

/// Sends ONE snapshot to a peer on a lean connection of its own (role `snapshot`): the
/// header, then each chunk as it is produced — every write awaited, so a slow receiver
/// (which stops reading) holds the producer back instead of the bytes piling up here —
/// paced by the MB/s throttle, then `snapshotEnd`, and waits for the receiver's verdict
/// (which may come early, when it rejects before the end). Stateless apart from one send.
enum LeanSnapshotSender {
    static func send(to address: PeerTransportConfig.Address, header: SnapshotHeader,
                     chunks: AsyncThrowingStream<[UInt8], any Error>, config: PeerTransportConfig,
                     group: any EventLoopGroup, stats: StatsBox, logger: Logger) async throws {
        let verdict = Mutex<[UInt8]?>(nil)
        let (verdicts, verdictSink) = AsyncStream<Void>.makeStream()
        let channel = try await LeanDialer.dial(address, role: .snapshot, config: config, group: group, logger: logger,
                                                onFrame: { frame in
            guard frame.kind == .snapshotResult else { return }
            verdict.withLock { $0 = $0 ?? frame.payload }
            verdictSink.finish()
        }).get()
        channel.closeFuture.whenComplete { _ in verdictSink.finish() }
        defer { channel.close(promise: nil) }
        func write(_ kind: LeanFrame.Kind, _ payload: [UInt8]) async throws {
            var buffer = channel.allocator.buffer(capacity: 5 + payload.count)
            LeanFrameCodec.encode(kind, payload, into: &buffer)
            try await channel.writeAndFlush(buffer)
        }
        do {
            do {
                try await write(.snapshotHeader, MessageCodec.encode(header: header))
                var throttle = SnapshotThrottle(megabytesPerSecond: config.snapshotMBPerSecond)
                for try await chunk in chunks {
                    if verdict.withLock({ $0 != nil }) { break }
                    try await write(.snapshotChunk, chunk)
                    stats.withLock { $0.snapshotBytesSent += UInt64(chunk.count) }
                    let wait = throttle.consume(chunk.count)
                    if wait > .zero { try await Task.sleep(for: wait) }
                }
                if verdict.withLock({ $0 == nil }) { try await write(.snapshotEnd, []) }
            } catch where verdict.withLock({ $0 != nil }) {
                // The receiver answered (and may have stopped reading): its verdict counts.
            }
            for await _ in verdicts {}
            guard let answer = verdict.withLock({ $0 }) else { throw PeerTransportError.snapshotConnectionLost }
            if !answer.isEmpty { throw PeerTransportError.snapshotRejected(String(decoding: answer, as: UTF8.self)) }
            stats.withLock { $0.snapshotsSent += 1 }
        } catch {
            stats.withLock { $0.snapshotsFailed += 1 }
            throw error
        }
    }
}
