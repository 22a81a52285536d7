import Synchronization

/// A bounded multi-producer, single-consumer queue (encoded frames for one peer, replies
/// of one Admin stream). When
/// full it drops the OLDEST frame (Raft retransmits; fresher state is worth more than
/// stale). Owns the frames and the one waiting consumer; `next()` hands over everything
/// queued at once so the writer can send it in one go.
package final class SendQueue<Element: Sendable>: Sendable {
    struct State {
        var frames: [Element] = []
        var head = 0
        var waiter: CheckedContinuation<[Element]?, Never>?
        var closed = false
        var dropped: UInt64 = 0
    }

    let capacity: Int
    let state = Mutex(State())

    package init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    /// Queues a frame; returns false if an older frame had to be dropped for it.
    @discardableResult
    package func push(_ frame: Element) -> Bool {
        let (waiter, kept) = state.withLock { s -> (CheckedContinuation<[Element]?, Never>?, Bool) in
            guard !s.closed else { return (nil, false) }
            if let w = s.waiter {
                s.waiter = nil
                return (w, true)
            }
            var kept = true
            if s.frames.count - s.head >= capacity {
                s.head += 1
                s.dropped += 1
                kept = false
            }
            s.frames.append(frame)
            if s.head > 64 && s.head * 2 > s.frames.count {
                s.frames.removeFirst(s.head)
                s.head = 0
            }
            return (nil, kept)
        }
        waiter?.resume(returning: [frame])
        return kept
    }

    /// Everything queued, waiting if there is nothing; nil once closed or when the calling
    /// task is cancelled (frames stay queued for the next consumer).
    package func next() async -> [Element]? {
        if let ready = takeReady() { return ready }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<[Element]?, Never>) in
                let immediate = state.withLock { s -> [Element]?? in
                    if s.closed { return .some(nil) }
                    if s.frames.count > s.head {
                        let out = Array(s.frames[s.head...])
                        s.frames = []
                        s.head = 0
                        return .some(out)
                    }
                    if Task.isCancelled { return .some(nil) }
                    precondition(s.waiter == nil, "SendQueue has a single consumer")
                    s.waiter = c
                    return .none
                }
                if let immediate { c.resume(returning: immediate) }
            }
        } onCancel: {
            let w = state.withLock { s -> CheckedContinuation<[Element]?, Never>? in
                defer { s.waiter = nil }
                return s.waiter
            }
            w?.resume(returning: nil)
        }
    }

    /// Everything queued now (possibly nothing), without waiting.
    package func takeAll() -> [Element] { takeReady() ?? [] }

    private func takeReady() -> [Element]? {
        state.withLock { s -> [Element]? in
            guard s.frames.count > s.head else { return nil }
            let out = Array(s.frames[s.head...])
            s.frames = []
            s.head = 0
            return out
        }
    }

    /// Drops everything queued (e.g. while the peer is unreachable) and returns how many.
    @discardableResult
    package func clear() -> Int {
        state.withLock { s in
            let n = s.frames.count - s.head
            s.frames = []
            s.head = 0
            return n
        }
    }

    package func close() {
        let w = state.withLock { s -> CheckedContinuation<[Element]?, Never>? in
            s.closed = true
            s.frames = []
            s.head = 0
            defer { s.waiter = nil }
            return s.waiter
        }
        w?.resume(returning: nil)
    }

    package var count: Int { state.withLock { $0.frames.count - $0.head } }
    package var droppedCount: UInt64 { state.withLock { $0.dropped } }
}
