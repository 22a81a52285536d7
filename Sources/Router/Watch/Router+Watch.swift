public import API
import Base
import MVCC

/// Watch over every range a key span touches (see `MergedWatchFeed`).
extension Router: EtcdWatchBackend {
    /// Start revision 0 is "after the revision `currentRevision()` answered" (the service
    /// asks it just before, for the created header). The router cannot tell which answer
    /// went to which stream, so it starts after the SMALLEST answer of the last second:
    /// nothing after the header is lost; when several streams create watches at once, a
    /// watch may also get events between another stream's header and its own.
    public func watch(_ spec: WatchSpec) async throws -> WatchEventStream {
        let span = KeySpan(key: spec.key, rangeEnd: spec.rangeEnd)
        let start: Int64
        if spec.startRevision > 0 {
            start = spec.startRevision
        } else {
            let now = ContinuousClock.now
            let recent = state.withLock { s in
                s.recentCurrents.removeAll { now - $0.at > Self.recentCurrentWindow }
                return s.recentCurrents.map(\.revision).min()
            }
            if let recent {
                start = recent + 1
            } else {
                start = try await fresh()
            }
        }
        let feed = MergedWatchFeed(router: self, span: span, prevKV: spec.prevKV, start: start)
        try await feed.open()
        return WatchEventStream { try await feed.next() }
    }

    /// A fresh revision from the oracle.
    public func currentRevision() async throws -> Int64 {
        let r = try await fresh()
        let now = ContinuousClock.now
        state.withLock { s in
            s.recentCurrents.removeAll { now - $0.at > Self.recentCurrentWindow }
            if s.recentCurrents.count >= 1024 { s.recentCurrents.removeFirst() }
            s.recentCurrents.append((r, now))
        }
        return r
    }

    /// How long a `currentRevision()` answer can serve as the start of a watch from 0.
    static let recentCurrentWindow: Duration = .seconds(1)
}
