import Base
import MVCC
import Node
import Synchronization

/// The router's change feeds, shared: one underlying `ClusterAccess.feed` per (range,
/// epoch, serving node, prevKV) for all the watchers of this router that read that range
/// there, instead of one per watcher. Owns the hubs (`FeedHub`) by key and their settings;
/// a hub lives while it has subscribers and stops its feed when the last one leaves.
///
/// A watcher joins a running hub when the hub still holds every event from the watcher's
/// start revision on (`FeedHub.coveredFrom`; hubs keep items for `retain`, so a watch from
/// "now" created a little after the hub still joins); otherwise (a watch from an older
/// revision) it gets a feed of its own, as before. Every subscriber sees the hub's items
/// from its start revision on, narrowed to its span, so it gets exactly what a feed of its
/// own filtered to its span would deliver: whole revisions, in order, with the same
/// resolved revisions (possibly several items' worth in one); failures of the shared feed
/// (epoch mismatch, range gone, node unreachable) reach every subscriber, which re-plans
/// as before.
final class SharedRangeFeeds: Sendable {
    struct Key: Hashable {
        var range: RangeID
        var epoch: RangeDescriptor.Epoch
        var node: NodeID
        var prevKV: Bool
    }

    /// How new hubs keep and hand out items.
    struct Settings {
        /// How long a hub keeps items every subscriber took (late joiners).
        var retain: Duration = .seconds(2)
        /// How often an item wakes every subscriber, not only those it concerns (progress).
        var progressEvery: Duration = .milliseconds(100)
    }

    let access: any ClusterAccess
    let hubs = Mutex<[Key: FeedHub]>([:])
    /// Items a hub keeps for its slowest subscriber before cutting it off (it re-subscribes).
    let maxBacklog: Int
    /// Read when a hub starts (tests change them).
    let settings = Mutex(Settings())

    init(access: any ClusterAccess, maxBacklog: Int = 4_096) {
        self.access = access
        self.maxBacklog = maxBacklog
    }

    /// How many hubs run (tests).
    var hubCount: Int { hubs.withLock { $0.count } }

    /// The feed of `range` at `epoch` from `from` on, served by `node` (see
    /// `ClusterAccess.feed`), shared with the router's other watchers of that range. A shared
    /// feed carries only the events inside `span`; `eager` subscribers (a watch over
    /// several ranges) get every resolved step as it comes, the others with its events or
    /// at the hubs' progress interval. A feed of its own carries every event of the range.
    func feed(range: RangeID, epoch: RangeDescriptor.Epoch, from: Int64, prevKV: Bool, span: KeySpan, eager: Bool,
              on node: NodeID) -> AsyncThrowingStream<RangeFeedItem, any Error> {
        let key = Key(range: range, epoch: epoch, node: node, prevKV: prevKV)
        let settings = self.settings.withLock { $0 }
        let joined: FeedHub.Subscription? = hubs.withLock { h in
            if let hub = h[key], hub.hasEnded { h[key] = nil }  // its subscribers re-subscribe
            if let hub = h[key], let sub = hub.join(from: from, span: span, eager: eager) { return sub }
            if h[key] != nil { return nil }  // the running hub no longer holds `from`
            let hub = FeedHub(maxBacklog: maxBacklog, retain: settings.retain, progressEvery: settings.progressEvery,
                              from: from) { [weak self] hub in self?.remove(hub, key) }
            h[key] = hub
            let sub = hub.join(from: from, span: span, eager: eager)!
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
