import Base
import MVCC
import Node
import Synchronization

/// The router's change feeds, shared: one underlying `ClusterAccess.feed` per (range,
/// epoch, serving node, prevKV) for all the watchers of this router that read that range
/// there, instead of one per watcher. Owns the hubs (`FeedHub`) by key; a hub lives while
/// it has subscribers and stops its feed when the last one leaves.
///
/// A watcher joins a running hub when the hub still holds every event from the watcher's
/// start revision on (`FeedHub.coveredFrom`); otherwise (a watch from an older revision)
/// it gets a feed of its own, as before. Every subscriber sees the hub's items from its
/// start revision on, so it gets exactly what a feed of its own would deliver: every event
/// of the range, whole revisions, in order, with the same resolved revisions; failures of
/// the shared feed (epoch mismatch, range gone, node unreachable) reach every subscriber,
/// which re-plans as before.
final class SharedRangeFeeds: Sendable {
    struct Key: Hashable {
        var range: RangeID
        var epoch: RangeDescriptor.Epoch
        var node: NodeID
        var prevKV: Bool
    }

    let access: any ClusterAccess
    let hubs = Mutex<[Key: FeedHub]>([:])
    /// Items a hub keeps for its slowest subscriber before cutting it off (it re-subscribes).
    let maxBacklog: Int

    init(access: any ClusterAccess, maxBacklog: Int = 4_096) {
        self.access = access
        self.maxBacklog = maxBacklog
    }

    /// How many hubs run (tests).
    var hubCount: Int { hubs.withLock { $0.count } }

    /// The feed of `range` at `epoch` from `from` on, served by `node` (see
    /// `ClusterAccess.feed`), shared with the router's other watchers of that range.
    func feed(range: RangeID, epoch: RangeDescriptor.Epoch, from: Int64, prevKV: Bool,
              on node: NodeID) -> AsyncThrowingStream<RangeFeedItem, any Error> {
        let key = Key(range: range, epoch: epoch, node: node, prevKV: prevKV)
        let joined: FeedHub.Subscription? = hubs.withLock { h in
            if let hub = h[key], hub.hasEnded { h[key] = nil }  // its subscribers re-subscribe
            if let hub = h[key], let sub = hub.join(from: from) { return sub }
            if h[key] != nil { return nil }  // the running hub no longer holds `from`
            let hub = FeedHub(maxBacklog: maxBacklog, from: from) { [weak self] hub in self?.remove(hub, key) }
            h[key] = hub
            let sub = hub.join(from: from)!
            hub.start(access.feed(range: range, epoch: epoch, from: from, prevKV: prevKV, on: node))
            return sub
        }
        guard let joined else { return access.feed(range: range, epoch: epoch, from: from, prevKV: prevKV, on: node) }
        return AsyncThrowingStream(unfolding: { try await joined.next() })
    }

    private func remove(_ hub: FeedHub, _ key: Key) {
        hubs.withLock { h in if h[key] === hub { h[key] = nil } }
    }
}

/// One shared range feed and its subscribers. Owns the pump task that pulls the
/// underlying feed, the items not yet taken by every subscriber (`log`, with absolute
/// sequence numbers from `base`), and each subscriber's cursor and parked continuation.
final class FeedHub: Sendable {
    struct Subscriber {
        /// The next sequence number to take.
        var cursor: UInt64
        /// Events below this are not this subscriber's (it started there).
        var from: Int64
        /// The highest resolved revision passed on to it.
        var resolved: Int64
        var parked: CheckedContinuation<Void, Never>?
        /// Fell more than `maxBacklog` items behind: its next pull fails.
        var cutOff = false
    }

    struct State {
        var log: [RangeFeedItem] = []
        var base: UInt64 = 0
        /// Every event with a revision >= this is in `log` or still to come.
        var coveredFrom: Int64
        var subscribers: [UInt64: Subscriber] = [:]
        var nextID: UInt64 = 0
        /// The underlying feed ended (nil: running): with the error, or nil error for its end.
        var end: Result<Void, any Error>?
        var stopped = false
        var pump: Task<Void, Never>?
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
    let onEmpty: @Sendable (FeedHub) -> Void

    init(maxBacklog: Int, from: Int64, onEmpty: @escaping @Sendable (FeedHub) -> Void) {
        self.maxBacklog = maxBacklog
        self.onEmpty = onEmpty
        state = Mutex(State(coveredFrom: from))
    }

    /// A new subscriber from revision `from`; nil when events from `from` on are no longer
    /// all held (or the hub ended).
    func join(from: Int64) -> Subscription? {
        let id = state.withLock { s -> UInt64? in
            guard s.end == nil, !s.stopped, from >= s.coveredFrom else { return nil }
            s.nextID += 1
            s.subscribers[s.nextID] = Subscriber(cursor: s.base, from: from, resolved: from - 1)
            return s.nextID
        }
        return id.map { Subscription(hub: self, id: $0) }
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
                return s.takeParked()
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
        let wake = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.trim()  // once per item, not per pull: a pass over every subscriber
            s.log.append(item)
            if s.log.count > maxBacklog {
                // The slowest subscribers hold the log: cut them off (they re-subscribe).
                let limit = s.base + UInt64(s.log.count - maxBacklog)
                for (id, sub) in s.subscribers where sub.cursor < limit && !sub.cutOff {
                    s.subscribers[id]!.cutOff = true
                    s.subscribers[id]!.cursor = s.base + UInt64(s.log.count)
                }
                s.trim()
            }
            return s.takeParked()
        }
        for c in wake { c.resume() }
    }

    /// The subscriber's next item: the hub's items from its cursor on, narrowed to its
    /// start revision; parks while there is none.
    func next(_ id: UInt64) async throws -> RangeFeedItem? {
        while true {
            try Task.checkCancellation()
            enum Step { case item(RangeFeedItem), wait, end(Result<Void, any Error>), detached }
            let step = state.withLock { s -> Step in
                guard var sub = s.subscribers[id] else { return .detached }
                if sub.cutOff { return .detached }
                while sub.cursor < s.base + UInt64(s.log.count) {
                    let item = s.log[Int(sub.cursor - s.base)]
                    sub.cursor += 1
                    switch item {
                    case .compacted(let c):
                        s.subscribers[id] = sub
                        // Compacted below the hub's start; this subscriber may start above it.
                        return sub.from < c ? .item(item) : .detached
                    case .events(let events, let resolved):
                        guard resolved > sub.resolved else { continue }
                        sub.resolved = resolved
                        s.subscribers[id] = sub
                        let mine = events.first.map { $0.kv.modRevision >= sub.from } ?? true
                            ? events : events.filter { $0.kv.modRevision >= sub.from }
                        return .item(.events(mine, resolved: resolved))
                    }
                }
                s.subscribers[id] = sub
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

    /// Waits for the next append (or the end, cancellation, leaving).
    private func park(_ id: UInt64) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let parked = state.withLock { s -> Bool in
                    guard !Task.isCancelled, s.end == nil, s.subscribers[id] != nil,
                        s.subscribers[id]!.cursor >= s.base + UInt64(s.log.count)
                    else { return false }
                    s.subscribers[id]!.parked = c
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
            let parked = s.subscribers.removeValue(forKey: id)?.parked
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
    /// Drops the items every subscriber has taken; what they covered is no longer held.
    mutating func trim() {
        let low = subscribers.values.map(\.cursor).min() ?? base + UInt64(log.count)
        guard low > base else { return }
        let n = Int(low - base)
        for item in log[..<n] {
            if case .events(_, let resolved) = item { coveredFrom = max(coveredFrom, resolved + 1) }
            if case .compacted = item { coveredFrom = .max }
        }
        log.removeFirst(n)
        base = low
    }

    /// Takes every parked continuation (to resume outside the lock).
    mutating func takeParked() -> [CheckedContinuation<Void, Never>] {
        var out: [CheckedContinuation<Void, Never>] = []
        for (id, sub) in subscribers {
            if let c = sub.parked {
                out.append(c)
                subscribers[id]!.parked = nil
            }
        }
        return out
    }
}
