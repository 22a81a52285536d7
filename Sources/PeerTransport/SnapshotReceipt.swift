import Base
import Logging
import Node

/// Runs ONE inbound snapshot on the node for either transport: hands `next` (one chunk per
/// pull, counted as received when the node takes it) to `receiveSnapshot` and returns the
/// verdict for the sender — empty when installed, else the error text. Stateless.
enum SnapshotReceipt {
    static func run(handler: (any RaftTransportHandler)?, from: NodeID, header: SnapshotHeader, stats: StatsBox,
                    logger: Logger, next: @escaping @Sendable () async throws -> [UInt8]?) async -> [UInt8] {
        guard let handler else { return Array("node not started".utf8) }
        let chunks = AsyncThrowingStream<[UInt8], any Error> {
            let chunk = try await next()
            if let chunk { stats.withLock { $0.snapshotBytesReceived += UInt64(chunk.count) } }
            return chunk
        }
        do {
            try await handler.receiveSnapshot(from: from, header: header, chunks: chunks)
            stats.withLock { $0.snapshotsReceived += 1 }
            logger.info("snapshot ingested", metadata: ["from": "\(from)", "range": "\(header.rangeID)"])
            return []
        } catch {
            stats.withLock { $0.snapshotsFailed += 1 }
            logger.warning("snapshot rejected", metadata: ["from": "\(from)", "range": "\(header.rangeID)",
                                                           "error": "\(error)"])
            let text = "\(error)"
            return Array((text.isEmpty ? "rejected" : text).utf8)
        }
    }
}
