import Base
import MVCC
import Node
import Synchronization

/// One shared range feed and its subscribers. Owns the pump task that pulls the
/// underlying feed, the items not yet taken by every subscriber or younger than the
/// retention (`log`, with absolute sequence numbers from `base`), and each subscriber's
/// cursor, span and parked continuation.
///
/// Fan-out cost: an item wakes only the parked subscribers it concerns — those with an
/// event in their span (from their start revision), the eager ones (a watch over several
/// ranges needs every resolved step to release the other ranges' events), and, once per
/// `progressEvery`, those parked for at least `progressEvery`, so progress still reaches
/// single-range watchers (a resolved revision lags by less than twice `progressEvery`).
/// Single-key subscribers (most watchers) are indexed by their key, so the wake pass
/// costs a lookup per event plus a check per other subscriber, not a check per
/// subscriber and event. A woken subscriber takes every item it has not taken in one
/// step: its events, in order, and the last resolved revision.
///
/// Retention: items stay `retain` after they were appended even when every subscriber
/// took them, so a watcher created from a revision up to that much older (a watch from
/// "now" starts at the smallest current revision handed out in the last second, see
/// `Router.watch`) still joins instead of opening a feed of its own.
final class FeedHub: Sendable {
    struct Subscriber {
        /// The next sequence number to take.
        var cursor: UInt64
        /// Events below this are not this subscriber's (it started there).
        var from: Int64
        /// Events outside this span are not this subscriber's.
        var span: KeySpan
        /// Woken by every item (a multi-range watch), not only by its own events.
        var eager: Bool
        /// The highest resolved revision passed on to it.
        var resolved: Int64
        var parked: CheckedContinuation<Void, Never>?
        /// When it parked (progress wakes only those parked for `progressEvery`).
        var parkedAt: ContinuousClock.Instant?
        /// Fell more than `maxBacklog` items behind: its next pull fails.
        var cutOff = false

        /// Whether `item` carries something this subscriber must see now.
        func concerns(_ item: RangeFeedItem) -> Bool {
            guard case .events(let events, _) = item else { return true }
            return events.contains { $0.kv.modRevision >= from && span.contains($0.kv.key) }
        }
    }

    struct State {
        var log: [RangeFeedItem] = []
        /// When each item of `log` was appended.
        var appendedAt: [ContinuousClock.Instant] = []
        var base: UInt64 = 0
        /// Every event with a revision >= this is in `log` or still to come.
        var coveredFrom: Int64
        var subscribers: [UInt64: Subscriber] = [:]
        /// The non-eager subscribers of a single key, by that key (the wake index).
        var byKey: [[UInt8]: [UInt64]] = [:]
        /// The other subscribers (spans over several keys, eager ones): checked one by one.
        var scanned: Set<UInt64> = []
        var nextID: UInt64 = 0
        /// The underlying feed ended (nil: running): with the error, or nil error for its end.
        var end: Result<Void, any Error>?
        var stopped = false
        var pump: Task<Void, Never>?
        /// The last time every parked subscriber was woken for progress.
        var progressWokenAt: ContinuousClock.Instant?
    }

    /// A subscriber's handle: its stream pulls through `next()`; dropping the last
    /// reference (the stream went away) leaves the hub.
    final class Subscription: Sendable {
        let hub: FeedHub
        let id: UInt64

        init(hub: FeedHub, id: UInt64) {
            self.hub = hub
            self.id = id
        }

        func next() async throws -> RangeFeedItem? { try await hub.next(id) }

        deinit { hub.leave(id) }
    }

    /// Raised to a subscriber that fell too far behind or whose start the hub's
    /// compaction answer does not cover: it re-subscribes (a feed of its own if need be).
    struct Detached: Error {}

    let state: Mutex<State>
    let maxBacklog: Int
    let retain: Duration
    let progressEvery: Duration
    let onEmpty: @Sendable (FeedHub) -> Void

    init(maxBacklog: Int, retain: Duration, progressEvery: Duration, from: Int64,
         onEmpty: @escaping @Sendable (FeedHub) -> Void) {
        self.maxBacklog = maxBacklog
        self.retain = retain
        self.progressEvery = progressEvery
        self.onEmpty = onEmpty
        state = Mutex(State(coveredFrom: from))
    }

    /// A new subscriber of `span` from revision `from`; nil when events from `from` on are
    /// no longer all held (or the hub ended).
    func join(from: Int64, span: KeySpan, eager: Bool) -> Subscription? {
        let id = state.withLock { s -> UInt64? in
            guard s.end == nil, !s.stopped, from >= s.coveredFrom else { return nil }
            s.nextID += 1
            s.subscribers[s.nextID] = Subscriber(cursor: s.base, from: from, span: span, eager: eager,
                                                 resolved: from - 1)
            if !eager, let key = Self.singleKey(span) {
                s.byKey[key, default: []].append(s.nextID)
            } else {
                s.scanned.insert(s.nextID)
            }
            return s.nextID
        }
        return id.map { Subscription(hub: self, id: $0) }
    }

    /// The key of a span holding exactly one key (`[k, k + 0x00)`), else nil.
    static func singleKey(_ span: KeySpan) -> [UInt8]? {
        guard let end = span.end, end.count == span.start.count + 1, end.last == 0,
              end.starts(with: span.start) else { return nil }
        return span.start
    }

    /// The underlying feed ended or failed: nobody can join any more.
    var hasEnded: Bool { state.withLock { $0.end != nil || $0.stopped } }

    /// Starts pulling `feed` (once, right after the first `join`).
    func start(_ feed: AsyncThrowingStream<RangeFeedItem, any Error>) {
        let task = Task { [self] in
            var end: Result<Void, any Error> = .success(())
            do {
                for try await item in feed {
                    append(item)
                    if case .compacted = item { break }
                }
            } catch {
                end = .failure(error)
            }
            let wake = state.withLock { s -> [CheckedContinuation<Void, Never>] in
                s.end = end
                return s.takeParked { _ in true }
            }
            for c in wake { c.resume() }
        }
        let stopNow = state.withLock { s -> Bool in
            s.pump = task
            return s.stopped
        }
        if stopNow { task.cancel() }
    }

    private func append(_ item: RangeFeedItem) {
        let now = ContinuousClock.now
        let wake = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.trim(now: now, retain: retain)  // per item, not per pull; paced (see `trim`)
            s.log.append(item)
            s.appendedAt.append(now)
            if s.log.count > maxBacklog {
                // The slowest subscribers hold the log: cut them off (they re-subscribe).
                let limit = s.base + UInt64(s.log.count - maxBacklog)
                for (id, sub) in s.subscribers where sub.cursor < limit && !sub.cutOff {
                    s.subscribers[id]!.cutOff = true
                    s.subscribers[id]!.cursor = s.base + UInt64(s.log.count)
                }
                s.trim(now: now, retain: retain, atLeast: s.log.count - maxBacklog)
            }
            var wake = s.takeConcerned(by: item)
            if s.progressWokenAt.map({ now - $0 >= progressEvery }) ?? true {
                s.progressWokenAt = now
                let since = now - progressEvery
                wake += s.takeParked { $0.parkedAt.map { $0 <= since } ?? true }
            }
            return wake
        }
        for c in wake { c.resume() }
    }

    /// The subscriber's next item: every item from its cursor on, narrowed to its span and
    /// start revision, in one (its events in order, the last resolved revision); parks
    /// while there is nothing new.
    func next(_ id: UInt64) async throws -> RangeFeedItem? {
        while true {
            try Task.checkCancellation()
            enum Step { case item(RangeFeedItem), wait, end(Result<Void, any Error>), detached }
            let step = state.withLock { s -> Step in
                guard var sub = s.subscribers[id] else { return .detached }
                if sub.cutOff { return .detached }
                var events: [WatchEvent] = []
                var advanced = false
                defer { s.subscribers[id] = sub }
                while sub.cursor < s.base + UInt64(s.log.count) {
                    let item = s.log[Int(sub.cursor - s.base)]
                    switch item {
                    case .compacted(let c):
                        // Handed on its own, after what came before it.
                        if advanced { return .item(.events(events, resolved: sub.resolved)) }
                        sub.cursor += 1
                        // Compacted below the hub's start; this subscriber may start above it.
                        return sub.from < c ? .item(item) : .detached
                    case .events(let batch, let resolved):
                        sub.cursor += 1
                        guard resolved > sub.resolved else { continue }
                        sub.resolved = resolved
                        advanced = true
                        for e in batch where e.kv.modRevision >= sub.from && sub.span.contains(e.kv.key) {
                            events.append(e)
                        }
                    }
                }
                if advanced { return .item(.events(events, resolved: sub.resolved)) }
                if let end = s.end { return .end(end) }
                return .wait
            }
            switch step {
            case .item(let item): return item
            case .detached: throw Detached()
            case .end(.success): return nil
            case .end(.failure(let e)): throw e
            case .wait: await park(id)
            }
        }
    }

    /// Waits for an append that concerns it (or the end, cancellation, leaving).
    private func park(_ id: UInt64) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let parked = state.withLock { s -> Bool in
                    guard !Task.isCancelled, s.end == nil, s.subscribers[id] != nil,
                        s.subscribers[id]!.cursor >= s.base + UInt64(s.log.count)
                    else { return false }
                    s.subscribers[id]!.parked = c
                    s.subscribers[id]!.parkedAt = .now
                    return true
                }
                if !parked { c.resume() }
            }
        } onCancel: {
            let c = state.withLock { s -> CheckedContinuation<Void, Never>? in
                defer { s.subscribers[id]?.parked = nil }
                return s.subscribers[id]?.parked
            }
            c?.resume()
        }
    }

    /// Removes a subscriber; the last one stops the hub.
    func leave(_ id: UInt64) {
        let (empty, pump, parked) = state.withLock { s -> (Bool, Task<Void, Never>?, CheckedContinuation<Void, Never>?) in
            let removed = s.subscribers.removeValue(forKey: id)
            let parked = removed?.parked
            if let removed {
                if s.scanned.remove(id) == nil, let key = Self.singleKey(removed.span) {
                    s.byKey[key]?.removeAll { $0 == id }
                    if s.byKey[key]?.isEmpty == true { s.byKey[key] = nil }
                }
            }
            guard s.subscribers.isEmpty, !s.stopped else { return (false, nil, parked) }
            s.stopped = true
            return (true, s.pump, parked)
        }
        parked?.resume()
        guard empty else { return }
        pump?.cancel()
        onEmpty(self)
    }
}

extension FeedHub.State {
    /// Drops the items every subscriber has taken and older than `retain` (and at least
    /// `atLeast` items, the backlog overflow); what they covered is no longer held.
    ///
    /// Paced: without an overflow it does nothing until the oldest item is `retain` plus a
    /// sixteenth of it old, then drops everything due at once. A trim is a pass over every
    /// subscriber (a copy of each) and shifts the whole log; it ran per item (one per applied
    /// write on every node with watchers: about a quarter of the hub's samples in the watch
    /// profile, docs/bench.md session 12), now about sixteen times per `retain`. Items stay
    /// at most about `retain * 17 / 16` after every subscriber took them (joiners lose nothing).
    mutating func trim(now: ContinuousClock.Instant, retain: Duration, atLeast: Int = 0) {
        guard atLeast > 0 || appendedAt.first.map({ now - $0 >= retain + retain / 16 }) == true else { return }
        var low = base + UInt64(log.count)
        for sub in subscribers.values where sub.cursor < low { low = sub.cursor }
        let taken = low > base ? Int(low - base) : 0
        var n = 0  // appendedAt increases: the items past the retention are a prefix
        while n < taken && now - appendedAt[n] >= retain { n += 1 }
        n = max(n, min(atLeast, log.count))
        guard n > 0 else { return }
        for item in log[..<n] {
            if case .events(_, let resolved) = item { coveredFrom = max(coveredFrom, resolved + 1) }
            if case .compacted = item { coveredFrom = .max }
        }
        log.removeFirst(n)
        appendedAt.removeFirst(n)
        base += UInt64(n)
    }

    /// Takes the parked continuations of the subscribers `item` concerns (see
    /// `FeedHub.Subscriber.concerns`; eager ones always): single-key subscribers through
    /// the key index, the others one by one.
    mutating func takeConcerned(by item: RangeFeedItem) -> [CheckedContinuation<Void, Never>] {
        guard case .events(let events, _) = item else { return takeParked { _ in true } }
        var out: [CheckedContinuation<Void, Never>] = []
        if !byKey.isEmpty {
            for e in events {
                guard let ids = byKey[e.kv.key] else { continue }
                for id in ids {
                    guard let c = subscribers[id]?.parked, e.kv.modRevision >= subscribers[id]!.from else { continue }
                    out.append(c)
                    subscribers[id]!.parked = nil
                }
            }
        }
        for id in scanned {
            guard let sub = subscribers[id], let c = sub.parked, sub.eager || sub.concerns(item) else { continue }
            out.append(c)
            subscribers[id]!.parked = nil
        }
        return out
    }

    /// Takes the parked continuations of the subscribers `wake` selects (to resume
    /// outside the lock).
    mutating func takeParked(_ wake: (FeedHub.Subscriber) -> Bool) -> [CheckedContinuation<Void, Never>] {
        var out: [CheckedContinuation<Void, Never>] = []
        for (id, sub) in subscribers {
            if let c = sub.parked, wake(sub) {
                out.append(c)
                subscribers[id]!.parked = nil
            }
        }
        return out
    }
}
