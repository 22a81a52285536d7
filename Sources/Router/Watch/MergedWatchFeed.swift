import API
import Base
import MVCC
import Node

/// One watcher's feed over several ranges: a per-range change feed for each range the
/// watched span touches, merged into one revision-ordered feed. Owns the sub-feeds (their
/// iterators and resolved revisions) and the events received but not yet released.
///
/// Merging: each range's feed promises every event of the range `<= resolved` has been
/// delivered, so events up to `min(resolved)` over the sub-feeds are final; they are
/// released in revision order (stable, so a txn's sub order is kept), and when there are
/// none a progress item reports `min(resolved)`. Only the sub-feeds at the minimum (the
/// laggards) are pulled, concurrently, so at most about one batch per sub-feed is held.
/// A sub-feed failing with `epochMismatch` / `rangeNotFound` (split, merge, replica moved)
/// is replaced by feeds for the ranges now holding its span, from its resolved revision
/// + 1: nothing is lost and nothing delivered twice. Other failures re-subscribe on
/// another replica after a backoff.
///
/// Close on demand: while it holds events that wait for laggards (or only some sub-feeds are
/// at the minimum, so the others are not pulled), it asks the nodes to close all its ranges
/// now (`ClusterAccess.demandClose`) instead of waiting for their closer's next tick
/// (`closeIntervalMs`), so an event of one range is released about one close round after it
/// applied, not up to a tick later; after such a round every sub-feed is at one revision and
/// pulled, and nothing is demanded until the next event.
///
/// Cost: the range feeds are the router's shared ones (`SharedRangeFeeds`): one
/// underlying feed per (range, epoch, node) for all watchers, handing each sub-feed only
/// the events of its span (a feed of its own carries every event of its range; events
/// outside the span are dropped here). A watch over one range is woken by its own events
/// and by the hubs' progress interval; a watch over several by every resolved step.
///
/// `@unchecked Sendable`: `WatchEventStream` is single-consumer — `next()` is never called
/// concurrently — and the sub-feeds handed to child tasks in `next()` are each touched by
/// exactly one child, which `next()` awaits before touching any state again.
final class MergedWatchFeed: @unchecked Sendable {
    /// One range's feed for the part `span` of the watched span.
    final class SubFeed: @unchecked Sendable {
        let span: KeySpan
        let route: RangeRoute
        var node: NodeID
        /// Every event of `span` with a revision <= this has been received.
        var resolved: Int64
        var iterator: AsyncThrowingStream<RangeFeedItem, any Error>.AsyncIterator

        init(span: KeySpan, route: RangeRoute, node: NodeID, resolved: Int64,
             stream: AsyncThrowingStream<RangeFeedItem, any Error>) {
            self.span = span
            self.route = route
            self.node = node
            self.resolved = resolved
            self.iterator = stream.makeAsyncIterator()
        }

        /// The next item (nil: the feed ended) or the failure.
        func pull() async -> Result<RangeFeedItem?, any Error> {
            do {
                return .success(try await iterator.next())
            } catch {
                return .failure(error)
            }
        }
    }

    let router: Router
    let span: KeySpan
    let prevKV: Bool
    private var subs: [SubFeed] = []
    private var pending: [WatchEvent] = []
    private var lastReported: Int64
    private var failures = 0
    private var done = false

    /// A feed of `span` from revision `start` on (`start >= 1`).
    init(router: Router, span: KeySpan, prevKV: Bool, start: Int64) {
        self.router = router
        self.span = span
        self.prevKV = prevKV
        self.lastReported = start - 1
    }

    /// Subscribes every range of the span.
    func open() async throws {
        subs = try await subscribe(span, resolved: lastReported)
    }

    /// Feeds for the ranges holding `part`, each from `resolved + 1`, at the epoch of the
    /// route it was planned on: a replica at another epoch (a stale route, or a split/merge
    /// later) fails the feed with `epochMismatch`, and `replace` re-plans — a feed never
    /// serves a span other than the one planned.
    private func subscribe(_ part: KeySpan, resolved: Int64, avoiding bad: NodeID? = nil) async throws -> [SubFeed] {
        var budget = router.config.maxAttempts
        let plan = try await router.plan(part, budget: &budget)
        // Over several ranges every resolved step of each may release the others' events.
        let eager = plan.count > 1 || subs.count > 1
        return plan.map { p in
            let node = feedNode(p.route, avoiding: bad)
            let d = p.route.descriptor
            return SubFeed(span: p.span, route: p.route, node: node, resolved: resolved,
                           stream: router.feeds.feed(range: d.rangeID, epoch: d.epoch, from: resolved + 1,
                                                      prevKV: prevKV, span: p.span, eager: eager, on: node))
        }
    }

    /// The replica to read a feed from: the local one, else the leader hint, else the
    /// first; `avoiding` a node that just failed when another replica exists.
    private func feedNode(_ route: RangeRoute, avoiding bad: NodeID?) -> NodeID {
        let d = route.descriptor
        let local = router.access.localNode
        if d.replica(on: local) != nil && local != bad { return local }
        if route.leaderHint != .none && route.leaderHint != bad { return route.leaderHint }
        return d.replicas.first { $0.nodeID != bad }?.nodeID ?? d.replicas.first?.nodeID ?? local
    }

    func next() async throws -> WatchFeedItem? {
        while true {
            if done { return nil }
            try Task.checkCancellation()
            if subs.isEmpty { try await open() }
            var minResolved = subs.first?.resolved ?? lastReported
            for sub in subs where sub.resolved < minResolved { minResolved = sub.resolved }
            if let item = release(through: minResolved) { return item }
            let laggards = subs.count == 1 ? subs : subs.filter { $0.resolved == minResolved }
            if subs.count > 1, !pending.isEmpty || subs.contains(where: { $0.resolved > minResolved }) {
                demandCloses()  // held events wait for the laggards, or the laggards alone are pulled
            }
            let outcomes: [(Int, Result<RangeFeedItem?, any Error>)]
            if laggards.count == 1 {
                outcomes = [(0, await laggards[0].pull())]  // no child task for the common case
            } else {
                outcomes = await withTaskGroup(of: (Int, Result<RangeFeedItem?, any Error>).self) { group in
                    for (i, sub) in laggards.enumerated() {
                        group.addTask { (i, await sub.pull()) }
                    }
                    var out: [(Int, Result<RangeFeedItem?, any Error>)] = []
                    var demanded = false
                    for await o in group {
                        out.append(o)
                        // Events of one range now wait for the laggards still pulling.
                        if !demanded, out.count < laggards.count, case .success(.events(let events, _)) = o.1,
                           !events.isEmpty {
                            demanded = true
                            demandCloses()
                        }
                    }
                    return out.sorted { $0.0 < $1.0 }
                }
            }
            try Task.checkCancellation()
            for (i, outcome) in outcomes {
                let sub = laggards[i]
                switch outcome {
                case .success(.events(let events, let resolved)):
                    failures = 0
                    if events.allSatisfy({ sub.span.contains($0.kv.key) }) {
                        pending += events  // a shared feed's items are narrowed already: no copy
                    } else {
                        pending += events.filter { sub.span.contains($0.kv.key) }
                    }
                    sub.resolved = max(sub.resolved, resolved)
                case .success(.compacted(let c)):
                    done = true
                    return .compacted(compactRevision: c)
                case .success(nil):
                    try await replace(sub, error: nil)
                case .failure(let error):
                    if error is CancellationError { throw error }
                    try await replace(sub, error: error)
                }
            }
            // One feed's events come in order; several are merged (stable: sub order kept).
            if subs.count > 1 { pending.sort { $0.kv.modRevision < $1.kv.modRevision } }
        }
    }

    /// Asks the nodes serving the sub-feeds to close all their ranges now rather than at their
    /// closer's next tick (coalesced there: one round, one fresh revision for all of a node's
    /// demands). All of them, not only the laggards: closed together they end at one revision,
    /// so every sub-feed is at the minimum and pulled, and a later event of any range is seen
    /// (and prompts the next round) — a range left ahead would not be pulled until the
    /// laggards moved, which without writes to them is the closer's tick.
    private func demandCloses() {
        for sub in subs {
            router.access.demandClose(range: sub.route.descriptor.rangeID, on: sub.node)
        }
    }

    /// Releases the received events `<= through` (whole revisions), or a progress step
    /// when there are none and `through` moved; nil when there is nothing new.
    private func release(through: Int64) -> WatchFeedItem? {
        guard through > lastReported else { return nil }
        let n = pending.firstIndex { $0.kv.modRevision > through } ?? pending.count
        lastReported = through
        if n == 0 { return .progress(syncedThrough: through) }
        if n == pending.count {
            defer { pending = [] }
            return .events(pending, syncedThrough: through)
        }
        let out = Array(pending[..<n])
        pending.removeFirst(n)
        return .events(out, syncedThrough: through)
    }

    /// Re-subscribes the span of a failed sub-feed from its resolved revision + 1: over the
    /// new ranges after a split/merge, or on another replica otherwise.
    private func replace(_ sub: SubFeed, error: (any Error)?) async throws {
        failures += 1
        if failures > router.config.maxAttempts * max(1, subs.count) { throw EtcdError.timeout }
        let fresh: [SubFeed]
        switch error as? ProposalError {
        case .epochMismatch(let current)? where current.epoch < sub.route.descriptor.epoch:
            // The serving replica lags behind the route (it has not applied a split yet):
            // wait a little and read from another replica.
            try await Task.sleep(for: router.config.initialBackoff * failures)
            fresh = try await subscribe(sub.span, resolved: sub.resolved, avoiding: sub.node)
        case .epochMismatch(let current)?:
            await router.refreshRoutes()
            router.state.withLock { $0.cache.install(RangeRoute(descriptor: current, leaderHint: .none)) }
            fresh = try await subscribe(sub.span, resolved: sub.resolved)
        case .rangeNotFound?:
            await router.refreshRoutes()
            fresh = try await subscribe(sub.span, resolved: sub.resolved)
        default:
            try await Task.sleep(for: router.config.initialBackoff * failures)
            fresh = try await subscribe(sub.span, resolved: sub.resolved, avoiding: sub.node)
        }
        subs.removeAll { $0 === sub }
        subs += fresh
    }
}
