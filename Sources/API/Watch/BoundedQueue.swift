import Synchronization

/// A bounded multi-producer, single-consumer async queue: `push` waits while `capacity`
/// elements are buffered (back-pressure towards the watchers of a stream), `pop` waits
/// while empty. `finish` wakes everyone: pushes return false, `pop` drains what is left and
/// then returns nil. Both waits are cancellation-aware.
///
/// Continuations are resumed only after the lock is released: resuming takes the resumed
/// task's status lock, and a cancellation handler of that task (which runs holding it) takes
/// this queue's lock — resuming under the lock deadlocked a consumer being cancelled against
/// a producer (found in session 9 by looping the lean transport suites).
final class BoundedQueue<Element: Sendable>: Sendable {
    private struct State {
        var items: [Element] = []
        var head = 0
        var finished = false
        var consumer: CheckedContinuation<Void, Never>?
        var producers: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var cancelledProducers: Set<UInt64> = []
        var nextWaiterID: UInt64 = 0

        var count: Int { items.count - head }

        mutating func removeFirst() -> Element {
            let e = items[head]
            head += 1
            if head > 64 && head * 2 > items.count {
                items.removeFirst(head)
                head = 0
            }
            return e
        }

        /// Removes one parked producer; the caller resumes it after unlocking.
        mutating func takeOneProducer() -> CheckedContinuation<Void, Never>? {
            guard let (id, c) = producers.first else { return nil }
            producers.removeValue(forKey: id)
            return c
        }
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    /// Appends `element`, waiting while the queue is full. False when the queue is finished
    /// or the calling task was cancelled (the element is dropped).
    func push(_ element: Element) async -> Bool {
        while true {
            if Task.isCancelled { return false }
            let (attempt, wake): (PushAttempt, CheckedContinuation<Void, Never>?) = state.withLock { s in
                if s.finished { return (.finished, nil) }
                if s.count < capacity {
                    s.items.append(element)
                    let c = s.consumer
                    s.consumer = nil
                    return (.appended, c)
                }
                s.nextWaiterID += 1
                return (.wait(s.nextWaiterID), nil)
            }
            wake?.resume()
            let id: UInt64
            switch attempt {
            case .appended: return true
            case .finished: return false
            case .wait(let w): id = w
            }
            let limit = capacity
            await parkProducer(id) { $0.count < limit }
        }
    }

    /// Appends `elements` now, without waiting: all of them when they fit (or the queue is
    /// empty: a burst larger than the capacity still goes), or when `force`; else none
    /// (`.full`, see `waitForRoom`). Lets a caller queue under its own lock.
    func pushNow(contentsOf elements: [Element], force: Bool = false) -> PushNowOutcome {
        let (outcome, wake): (PushNowOutcome, CheckedContinuation<Void, Never>?) = state.withLock { s in
            if s.finished { return (.finished, nil) }
            guard force || s.count == 0 || s.count + elements.count <= capacity else { return (.full, nil) }
            s.items.append(contentsOf: elements)
            guard !elements.isEmpty, let c = s.consumer else { return (.pushed, nil) }
            s.consumer = nil
            return (.pushed, c)
        }
        wake?.resume()
        return outcome
    }

    /// Waits until `count` elements would fit (see `pushNow`) or an element was taken since,
    /// the queue finished, or cancellation.
    func waitForRoom(for count: Int) async {
        let id: UInt64? = state.withLock { s in
            if s.finished || s.count == 0 || s.count + count <= capacity { return nil }
            s.nextWaiterID += 1
            return s.nextWaiterID
        }
        guard let id else { return }
        let limit = capacity
        await parkProducer(id) { $0.count == 0 || $0.count + count <= limit }
    }

    /// Parks producer `id` until an element is taken (`wakeOneProducer`), the queue
    /// finishes, the task is cancelled, or — checked once under the lock before parking —
    /// `hasRoom` already holds.
    private func parkProducer(_ id: UInt64, hasRoom: @escaping @Sendable (State) -> Bool) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s in
                    if s.finished || hasRoom(s) || s.cancelledProducers.remove(id) != nil { return true }
                    s.producers[id] = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            let parked = state.withLock { s -> CheckedContinuation<Void, Never>? in
                if let c = s.producers.removeValue(forKey: id) { return c }
                s.cancelledProducers.insert(id)
                return nil
            }
            parked?.resume()
        }
        state.withLock { _ = $0.cancelledProducers.remove(id) }
    }

    /// The next element, waiting while empty; nil once finished and drained (or cancelled).
    func pop() async -> Element? { await popBatch(max: 1)?.first }

    /// The elements buffered now, oldest first, at most `max` (>= 1), waiting while empty;
    /// nil once finished and drained (or cancelled). Lets the consumer hand a burst on in
    /// one write. `yieldAfterWait`: after waiting, yield once before taking, so producers
    /// woken together with the first one (a burst) add theirs to the same batch.
    func popBatch(max: Int, yieldAfterWait: Bool = false) async -> [Element]? {
        var waited = false
        while true {
            if waited && yieldAfterWait {
                waited = false
                await Task.yield()
            }
            var woken: [CheckedContinuation<Void, Never>] = []
            let items: [Element]?? = state.withLock { s in
                if s.count > 0 {
                    var out: [Element] = []
                    out.reserveCapacity(Swift.min(max, s.count))
                    while s.count > 0 && out.count < Swift.max(1, max) {
                        out.append(s.removeFirst())
                        if let c = s.takeOneProducer() { woken.append(c) }
                    }
                    return .some(out)
                }
                if s.finished { return .some(nil) }
                return nil
            }
            for c in woken { c.resume() }
            if let items { return items }
            if Task.isCancelled { return nil }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLock { s in
                        if s.count > 0 || s.finished { return true }
                        precondition(s.consumer == nil, "BoundedQueue has a single consumer")
                        s.consumer = c
                        return false
                    }
                    if resumeNow { c.resume() }
                }
            } onCancel: {
                finish()
            }
            waited = true
        }
    }

    /// Ends the queue: waiting producers and the consumer wake up.
    func finish() {
        let woken = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.finished = true
            var woken = Array(s.producers.values)
            if let c = s.consumer { woken.append(c) }
            s.consumer = nil
            s.producers.removeAll()
            return woken
        }
        for c in woken { c.resume() }
    }

    /// Elements buffered now (for tests and metrics).
    var count: Int { state.withLock { $0.count } }
}

/// What one `push` attempt found.
private enum PushAttempt { case appended, finished, wait(UInt64) }

/// What `pushNow` did.
enum PushNowOutcome { case pushed, full, finished }
