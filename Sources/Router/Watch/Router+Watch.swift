public import API
import Base
import MVCC

/// Watch over every range a key span touches (see `MergedWatchFeed`).
extension Router: EtcdWatchBackend {
    /// Start revision 0 is "after the revision `currentRevision()` last answered" (the
    /// service asks it just before, for the created header): events above that header are
    /// delivered. Two streams creating watches at the same moment may see the later one's
    /// revision (events between the two are then not delivered to the earlier one).
    public func watch(_ spec: WatchSpec) async throws -> WatchEventStream {
        let span = KeySpan(key: spec.key, rangeEnd: spec.rangeEnd)
        let start: Int64
        if spec.startRevision > 0 {
            start = spec.startRevision
        } else {
            let last = state.withLock { $0.lastCurrent }
            start = last > 0 ? last + 1 : try await fresh()
        }
        let feed = MergedWatchFeed(router: self, span: span, prevKV: spec.prevKV, start: start)
        try await feed.open()
        return WatchEventStream { try await feed.next() }
    }

    /// A fresh revision from the oracle.
    public func currentRevision() async throws -> Int64 {
        let r = try await fresh()
        state.withLock { $0.lastCurrent = max($0.lastCurrent, r) }
        return r
    }
}
