import MVCC
import Synchronization

/// One watch feed over the store's watchable history: pulls the next batch from
/// `MVCCStore.events` at the revision it has reached, and when there is none reports a
/// bookmark (once per new revision) or waits on the hub for the next write. Holds only
/// its position — history replay and live events are the same scan, so nothing is
/// buffered whatever the consumer's speed.
final class WatchCursor: Sendable {
    private struct Position {
        var next: Int64
        var lastReported: Int64
        var done = false
    }

    let store: MVCCStore
    let hub: RevisionHub
    let spec: WatchSpec
    let batchEvents: Int
    private let position: Mutex<Position>

    init(store: MVCCStore, hub: RevisionHub, spec: WatchSpec, start: Int64, batchEvents: Int) {
        self.store = store
        self.hub = hub
        self.spec = spec
        self.batchEvents = batchEvents
        self.position = Mutex(Position(next: start, lastReported: start - 1))
    }

    func next() async throws -> WatchFeedItem? {
        while true {
            try Task.checkCancellation()
            let (from, done) = position.withLock { ($0.next, $0.done) }
            if done { return nil }
            let seen = hub.revision
            let result = try store.events(
                key: spec.key, rangeEnd: spec.rangeEnd, fromRevision: from, prevKV: spec.prevKV, limit: batchEvents)
            switch result {
            case .compacted(let c):
                position.withLock { $0.done = true }
                return .compacted(compactRevision: c)
            case .events(let events, let nextRevision):
                let synced = min(nextRevision - 1, store.currentRevision)
                let report: Bool = position.withLock { p in
                    p.next = max(p.next, nextRevision)
                    guard !events.isEmpty || synced > p.lastReported else { return false }
                    p.lastReported = max(p.lastReported, synced)
                    return true
                }
                if !events.isEmpty { return .events(events, syncedThrough: synced) }
                if report { return .progress(syncedThrough: synced) }
                await hub.wait(above: seen)
            }
        }
    }
}
