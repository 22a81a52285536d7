import NIOCore
import Synchronization

/// The chunks of ONE inbound snapshot between the connection's event loop (producer) and
/// the node's `receiveSnapshot` (consumer). Bounded: above `highWater` chunks the
/// connection stops reading (TCP then holds the sender back); when the consumer has taken
/// it down to `lowWater` reading resumes. Owns the buffered chunks and the waiting consumer.
final class ChunkInbox: Sendable {
    struct State {
        var chunks: [[UInt8]] = []
        var head = 0
        var end: Result<Void, any Error>?
        var waiter: CheckedContinuation<[UInt8]?, any Error>?
        var paused = false
        /// The consumer is gone: further chunks are dropped, reading never pauses.
        var abandoned = false
    }

    let channel: any Channel
    let highWater = 8
    let lowWater = 2
    let state = Mutex(State())

    init(channel: any Channel) { self.channel = channel }

    /// On the event loop: one more chunk; pauses reading when the consumer lags.
    func push(_ chunk: [UInt8]) {
        let (waiter, pause) = state.withLock { s -> (CheckedContinuation<[UInt8]?, any Error>?, Bool) in
            guard s.end == nil, !s.abandoned else { return (nil, false) }
            if let w = s.waiter {
                s.waiter = nil
                return (w, false)
            }
            s.chunks.append(chunk)
            if s.chunks.count - s.head >= highWater && !s.paused {
                s.paused = true
                return (nil, true)
            }
            return (nil, false)
        }
        if let waiter { waiter.resume(returning: chunk) }
        if pause { channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in } }
    }

    /// The stream ended: normally (`snapshotEnd`) or with `error` (connection lost).
    func finish(_ error: (any Error)? = nil) {
        let waiter = state.withLock { s -> CheckedContinuation<[UInt8]?, any Error>? in
            if s.end == nil { s.end = error.map { .failure($0) } ?? .success(()) }
            defer { s.waiter = nil }
            return s.waiter
        }
        if let error { waiter?.resume(throwing: error) } else { waiter?.resume(returning: nil) }
    }

    /// The consumer is done (installed or rejected): drop what is left, keep reading.
    func abandon() {
        let resume = state.withLock { s -> Bool in
            s.abandoned = true
            s.chunks = []
            s.head = 0
            defer { s.paused = false }
            return s.paused
        }
        if resume { resumeReading() }
    }

    func next() async throws -> [UInt8]? {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<[UInt8]?, any Error>) in
            let (ready, resume) = state.withLock { s -> (Result<[UInt8]?, any Error>?, Bool) in
                if s.chunks.count > s.head {
                    let chunk = s.chunks[s.head]
                    s.head += 1
                    if s.head == s.chunks.count {
                        s.chunks = []
                        s.head = 0
                    }
                    let resume = s.paused && s.chunks.count - s.head <= lowWater
                    if resume { s.paused = false }
                    return (.success(chunk), resume)
                }
                if let end = s.end { return (end.map { nil }, false) }
                s.waiter = c
                return (nil, false)
            }
            if resume { resumeReading() }
            if let ready { c.resume(with: ready) }
        }
    }

    func resumeReading() {
        let channel = self.channel
        channel.eventLoop.execute {
            channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
            channel.read()
        }
    }
}
