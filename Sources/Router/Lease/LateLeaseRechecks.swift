import Node
import Synchronization

/// The router's queue of late lease re-checks: leases attached by puts / txns whose outcome
/// is unknown ("request timed out": the proposal may still apply, seconds later, after the
/// lease's revoke swept its range). Each is re-checked once `delay` after it was queued
/// (`Router.sweepIfRevoked`). One worker task per router drains it; the worker exists
/// only while something is queued, and `stop()` ends it for good (the router's background
/// work stops: `Router.startLeaseExpiry`'s task was cancelled).
///
/// Bounded and coalescing: one entry per lease grant, its spans deduplicated (more than
/// `maxSpans` collapse into the whole keyspace); at most `capacity` leases are queued, and
/// a lease that finds the queue full is dropped and counted (`dropped`), the count logged
/// on powers of two. A dropped re-check leaves only the apply-time refusal of a revoked
/// lease (the range's revoke record) between the put and a key on a revoked lease.
/// A lease queued again before its re-check ran keeps one entry, due `delay` after the
/// latest enqueue (the latest put is the one that may apply last).
final class LateLeaseRechecks: Sendable {
    /// One queued re-check.
    struct Item: Equatable {
        var spans: [KeySpan]
        var due: ContinuousClock.Instant
    }

    struct State {
        var items: [LeaseGrant: Item] = [:]
        var dropped: UInt64 = 0
        /// A worker is draining the queue (it clears this when it finds the queue empty).
        var workerRunning = false
        var worker: Task<Void, Never>?
        var stopped = false
    }

    let delay: Duration
    let capacity: Int
    let maxSpans: Int
    let warn: (@Sendable (String) -> Void)?
    let state = Mutex(State())

    init(delay: Duration, capacity: Int, maxSpans: Int, warn: (@Sendable (String) -> Void)?) {
        self.delay = delay
        self.capacity = max(1, capacity)
        self.maxSpans = max(1, maxSpans)
        self.warn = warn
    }

    /// Queues `leases` (with the spans of the put or txn that attached them). Returns
    /// whether the caller must start a worker (none runs and the queue is not stopped).
    func enqueue(_ leases: [LeaseGrant], spans: [KeySpan], now: ContinuousClock.Instant = .now) -> Bool {
        let due = now + delay
        var newlyDropped: [UInt64] = []
        let start = state.withLock { s -> Bool in
            if s.stopped { return false }
            for lease in leases {
                if var item = s.items[lease] {
                    for span in spans where !item.spans.contains(span) { item.spans.append(span) }
                    if item.spans.count > maxSpans { item.spans = [.all] }
                    item.due = max(item.due, due)
                    s.items[lease] = item
                } else if s.items.count < capacity {
                    let unique = spans.reduce(into: [KeySpan]()) { if !$0.contains($1) { $0.append($1) } }
                    s.items[lease] = Item(spans: unique.count > maxSpans ? [.all] : unique, due: due)
                } else {
                    s.dropped += 1
                    if s.dropped & (s.dropped - 1) == 0 { newlyDropped.append(s.dropped) }
                }
            }
            guard !s.workerRunning, !s.items.isEmpty else { return false }
            s.workerRunning = true
            return true
        }
        for n in newlyDropped {
            warn?("late lease re-check queue full (\(capacity) leases): \(n) re-checks dropped so far")
        }
        return start
    }

    /// Remembers the worker's task (so `stop()` can cancel it).
    func attach(_ worker: Task<Void, Never>) {
        let cancel = state.withLock { s -> Bool in
            if s.stopped { return true }
            s.worker = worker
            return false
        }
        if cancel { worker.cancel() }
    }

    /// What the worker does next: the due items (removed from the queue), or the instant to
    /// sleep until, or nil to exit (queue empty or stopped; the worker flag is cleared).
    enum Next: Equatable {
        case run([(grant: LeaseGrant, spans: [KeySpan])])
        case sleep(until: ContinuousClock.Instant)
        case exit

        static func == (a: Next, b: Next) -> Bool {
            switch (a, b) {
            case (.run(let x), .run(let y)): x.map(\.grant) == y.map(\.grant) && x.map(\.spans) == y.map(\.spans)
            case (.sleep(let x), .sleep(let y)): x == y
            case (.exit, .exit): true
            default: false
            }
        }
    }

    func next(now: ContinuousClock.Instant = .now) -> Next {
        state.withLock { s in
            if s.stopped || s.items.isEmpty {
                s.workerRunning = false
                s.worker = nil
                return .exit
            }
            let due = s.items.filter { $0.value.due <= now }
                .sorted { ($0.key.lease, $0.key.grantRevision) < ($1.key.lease, $1.key.grantRevision) }
            if due.isEmpty { return .sleep(until: s.items.values.map(\.due).min()!) }
            for (lease, _) in due { s.items[lease] = nil }
            return .run(due.map { ($0.key, $0.value.spans) })
        }
    }

    /// Ends the worker and refuses further items (the router's background work stopped).
    func stop() {
        let worker = state.withLock { s -> Task<Void, Never>? in
            s.stopped = true
            s.items = [:]
            defer { s.worker = nil }
            return s.worker
        }
        worker?.cancel()
    }

    /// Queued leases and re-checks dropped so far (for tests and metrics).
    var counts: (queued: Int, dropped: UInt64, workerRunning: Bool) {
        state.withLock { ($0.items.count, $0.dropped, $0.workerRunning) }
    }
}
