import Dispatch
import Synchronization

/// Pull-based reading of a range snapshot: `next()` yields the segment stream of
/// `MVCCStore.writeSnapshot` one chunk at a time, all chunks from ONE read transaction.
///
/// The read transaction is closure-scoped (`MVCCBackend.view`), so a producer on a
/// dispatch thread runs `writeSnapshot` inside it and hands chunks over through a queue of
/// at most `depth` chunks; when the queue is full the producer blocks, and with it the scan
/// of the file. Memory is therefore about `(depth + 1) × chunkBytes` whatever the range's
/// size, and the consumer's pace (e.g. a throttled network stream) sets the producer's.
///
/// Dropping the reader (or `cancel()`) stops the producer at its next chunk and ends the
/// read transaction. Owns the hand-off, not the store.
public final class SnapshotChunkReader: Sendable {
    private let handoff: ChunkHandoff

    init(handoff: ChunkHandoff) { self.handoff = handoff }

    deinit { handoff.cancel() }

    /// The next chunk (whole frames of the segment stream), nil after the last one; throws
    /// what the producer threw (a read error, or a bounds change).
    public func next() async throws -> [UInt8]? { try await handoff.take() }

    /// Stops the producer; later `next()` calls answer nil or the producer's error.
    public func cancel() { handoff.cancel() }
}

extension MVCCStore {
    /// A pull-based reader of this range's snapshot (see `SnapshotChunkReader`): chunks of
    /// about `chunkBytes`, at most `depth` of them read ahead.
    public func snapshotReader(chunkBytes: Int = 1 << 20, depth: Int = 2) -> SnapshotChunkReader {
        let handoff = ChunkHandoff(depth: max(1, depth))
        DispatchQueue.global().async { [self] in
            do {
                try writeSnapshot(chunkBytes: chunkBytes) { chunk in try handoff.put(chunk) }
                handoff.finish(nil)
            } catch {
                handoff.finish(error)
            }
        }
        return SnapshotChunkReader(handoff: handoff)
    }
}

/// The bounded queue between a blocking producer thread and an async consumer. The
/// producer waits on a semaphore counting free places; the consumer suspends on a
/// continuation when the queue is empty. Owns the queued chunks.
final class ChunkHandoff: Sendable {
    private struct State {
        var queue: [[UInt8]] = []
        var head = 0
        var done = false
        var failure: (any Error)?
        var cancelled = false
        var waiter: CheckedContinuation<Void, Never>?

        var isEmpty: Bool { head == queue.count }
        mutating func pop() -> [UInt8] {
            let c = queue[head]
            queue[head] = []
            head += 1
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
            }
            return c
        }
    }

    /// Signalled when the producer may exit early.
    struct Cancelled: Error {}

    private let state = Mutex(State())
    private let freePlaces: DispatchSemaphore

    init(depth: Int) {
        // Starts at 0 and is raised to `depth`: libdispatch traps when a semaphore is freed
        // below its initial value, which a reader dropped mid-stream would do.
        freePlaces = DispatchSemaphore(value: 0)
        for _ in 0..<depth { freePlaces.signal() }
    }

    /// Producer: waits for a free place, then queues `chunk`. Throws once cancelled.
    func put(_ chunk: [UInt8]) throws {
        freePlaces.wait()
        let (cancelled, waiter) = state.withLock { s -> (Bool, CheckedContinuation<Void, Never>?) in
            if s.cancelled { return (true, nil) }
            s.queue.append(chunk)
            defer { s.waiter = nil }
            return (false, s.waiter)
        }
        if cancelled { throw Cancelled() }
        waiter?.resume()
    }

    /// Producer: the stream ended (nil) or failed.
    func finish(_ error: (any Error)?) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.done = true
            if !s.cancelled { s.failure = error }
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Consumer: the next chunk, nil at the end.
    func take() async throws -> [UInt8]? {
        while true {
            enum Step { case chunk([UInt8]), end, fail(any Error), wait }
            let step = state.withLock { s -> Step in
                if !s.isEmpty { return .chunk(s.pop()) }
                if let f = s.failure { return .fail(f) }
                if s.done || s.cancelled { return .end }
                return .wait
            }
            switch step {
            case .chunk(let c):
                freePlaces.signal()
                return c
            case .end:
                return nil
            case .fail(let e):
                throw e
            case .wait:
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let now = state.withLock { s -> Bool in
                        if !s.isEmpty || s.done || s.cancelled { return true }
                        s.waiter = c
                        return false
                    }
                    if now { c.resume() }
                }
            }
        }
    }

    /// Drops queued chunks and wakes a blocked producer so it stops.
    func cancel() {
        let (first, waiter) = state.withLock { s -> (Bool, CheckedContinuation<Void, Never>?) in
            let first = !s.cancelled
            s.cancelled = true
            s.queue = []
            s.head = 0
            defer { s.waiter = nil }
            return (first, s.waiter)
        }
        if first { freePlaces.signal() }
        waiter?.resume()
    }
}
