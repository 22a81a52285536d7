public import MVCC

/// What one watcher asks for: etcd's `WatchCreateRequest` minus the stream concerns
/// (watch ID, fragment, progress_notify and the NOPUT/NODELETE filters are the service's).
/// Key-range conventions are etcd's: empty `rangeEnd` is `key` alone, `[0]` every key
/// `>= key`; an empty key has already been replaced by `[0]`.
public struct WatchSpec: Equatable, Sendable {
    public var key: [UInt8]
    public var rangeEnd: [UInt8]
    /// First revision wanted; 0 means "after the current revision".
    public var startRevision: Int64
    public var prevKV: Bool

    public init(key: [UInt8], rangeEnd: [UInt8] = [], startRevision: Int64 = 0, prevKV: Bool = false) {
        self.key = key
        self.rangeEnd = rangeEnd
        self.startRevision = startRevision
        self.prevKV = prevKV
    }
}

/// One item of a watch feed.
public enum WatchFeedItem: Equatable, Sendable {
    /// Events of whole revisions, in order; every event of the key range with a revision
    /// `<= syncedThrough` has now been delivered.
    case events([WatchEvent], syncedThrough: Int64)
    /// No events: every event `<= syncedThrough` has been delivered (a bookmark).
    case progress(syncedThrough: Int64)
    /// The revision the feed needed is compacted; the feed ends after this item.
    case compacted(compactRevision: Int64)
}

/// A type-erased, single-consumer async sequence of `WatchFeedItem`s. The backend supplies
/// the `next` closure (a pull: the feed computes the next item when asked, so it holds at
/// most one batch); returning nil ends the feed.
public struct WatchEventStream: AsyncSequence, Sendable {
    public typealias Element = WatchFeedItem
    let nextItem: @Sendable () async throws -> WatchFeedItem?

    public init(next: @escaping @Sendable () async throws -> WatchFeedItem?) {
        self.nextItem = next
    }

    /// Iterates by calling the backend's `next` closure.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let nextItem: @Sendable () async throws -> WatchFeedItem?
        public mutating func next() async throws -> WatchFeedItem? { try await nextItem() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(nextItem: nextItem) }
}
