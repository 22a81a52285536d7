import GRPCCore
import MVCC
import Proto
import Synchronization

/// One client's Watch stream: the watchers multiplexed on it (IDs, filters, progress and
/// fragment flags, how far each is synced), the tasks pulling their backend feeds — one per
/// group of watchers of the same keys (see `WatchSession+Groups.swift`) — and the bounded
/// queue of responses the stream's writer drains. Owns those tasks;
/// `close` ends them all. Requests are handled one at a time by the stream's reader.
final class WatchSession: Sendable {
    struct Watcher {
        let progressNotify: Bool
        let fragment: Bool
        let noPut: Bool
        let noDelete: Bool
        /// Every event `<= syncedThrough` has been queued.
        var syncedThrough: Int64
        /// The last feed item was a bookmark (no events pending).
        var synced: Bool
        /// A future start revision: no progress is reported below it.
        let silentBelow: Int64
        var sentSinceTick = false
        /// The feed ended (compacted or failed) and its cancel response is being queued: the
        /// watcher stays counted by progress requests (at its synced revision) until then, so
        /// no stream-wide bookmark above what it delivered can precede its cancel.
        var ending = false
        /// The group whose feed it shares (set once its group has it).
        var group: Int64?
    }

    struct State {
        var watchers: [Int64: Watcher] = [:]
        var nextID: Int64 = 0
        var closed = false
        var groups: [Int64: FeedGroup] = [:]
        /// The group new watchers of a key (span, prev_kv) may join.
        var openGroups: [FeedGroupKey: Int64] = [:]
        var nextGroupID: Int64 = 0
    }

    let backend: any EtcdWatchBackend
    let headers: ResponseHeaders
    let limits: EtcdLimits
    let queue: BoundedQueue<Etcdserverpb_WatchResponse>
    /// The service's encoded events, shared with its other streams (nil: encode per response).
    let encoded: EncodedEvents?
    let state = Mutex(State())

    /// etcd's watch ID for "no watcher" (clientv3.InvalidWatchID).
    static let invalidWatchID: Int64 = -1
    static let emptyRangeReason = "mvcc: watcher range is empty"
    static let duplicateIDReason = "mvcc: duplicate watch ID provided on the WatchStream"
    static let tooManyWatchersReason = "flotilla: too many watchers on this stream"

    init(backend: any EtcdWatchBackend, headers: ResponseHeaders, limits: EtcdLimits,
         encoded: EncodedEvents? = EncodedEvents()) {
        self.backend = backend
        self.encoded = encoded
        self.headers = headers
        self.limits = limits
        self.queue = BoundedQueue(capacity: limits.watchResponsesBuffered)
    }

    var watcherCount: Int { state.withLock { $0.watchers.count } }

    // MARK: requests

    func handle(_ request: Etcdserverpb_WatchRequest) async {
        switch request.requestUnion {
        case .createRequest(let c): await create(c)
        case .cancelRequest(let c): await cancel(c.watchID)
        case .progressRequest: await requestProgress()
        case nil: break
        }
    }

    func currentRevision() async -> Int64 { (try? await backend.currentRevision()) ?? 0 }

    private func refuse(_ reason: String, id: Int64 = invalidWatchID, revision: Int64) async {
        var r = Etcdserverpb_WatchResponse()
        r.header = headers.make(revision: revision)
        r.watchID = id
        r.created = true
        r.canceled = true
        r.cancelReason = reason
        _ = await queue.push(r)
    }

    func create(_ c: Etcdserverpb_WatchCreateRequest) async {
        let key = c.key.isEmpty ? [0] : [UInt8](c.key)
        let rangeEnd = [UInt8](c.rangeEnd)
        let current: Int64
        do {
            current = try await backend.currentRevision()
        } catch {
            return await refuse(ErrorMapping.rpcError(error).message, revision: 0)
        }
        if c.startRevision < 0 { return await refuse(MVCCError.compacted.message, revision: current) }
        if !rangeEnd.isEmpty && rangeEnd != [0] && !Self.less(key, rangeEnd) {
            return await refuse(Self.emptyRangeReason, revision: current)
        }
        let start = c.startRevision
        let filters = Set(c.filters)
        enum Reservation { case id(Int64), closed, tooMany, duplicate }
        let reservation: Reservation = state.withLock { s in
            if s.closed { return .closed }
            if s.watchers.count >= limits.maxWatchersPerStream { return .tooMany }
            let id: Int64
            if c.watchID != 0 {
                if s.watchers[c.watchID] != nil { return .duplicate }
                id = c.watchID
            } else {
                while s.watchers[s.nextID] != nil { s.nextID += 1 }
                id = s.nextID
                s.nextID += 1
            }
            s.watchers[id] = Watcher(
                progressNotify: c.progressNotify, fragment: c.fragment, noPut: filters.contains(.noput),
                noDelete: filters.contains(.nodelete), syncedThrough: start > 0 ? start - 1 : current,
                synced: true, silentBelow: start > current + 1 ? start : 0)
            return .id(id)
        }
        let id: Int64
        switch reservation {
        case .closed: return
        case .tooMany: return await refuse(Self.tooManyWatchersReason, revision: current)
        case .duplicate: return await refuse(Self.duplicateIDReason, revision: current)
        case .id(let i): id = i
        }
        let group = FeedGroupKey(key: key, rangeEnd: rangeEnd, prevKV: c.prevKv)
        let first = start > 0 ? start : current + 1  // the first revision it reports
        if join(id, group: group, first: first, current: current) { return }
        let feed: WatchEventStream
        do {
            feed = try await backend.watch(
                WatchSpec(key: key, rangeEnd: rangeEnd, startRevision: start, prevKV: c.prevKv))
        } catch {
            _ = state.withLock { $0.watchers.removeValue(forKey: id) }
            return await refuse(ErrorMapping.rpcError(error).message, revision: current)
        }
        var created = Etcdserverpb_WatchResponse()
        created.header = headers.make(revision: current)
        created.watchID = id
        created.created = true
        guard await queue.push(created) else { return }
        startGroup(id, group: group, first: first, feed: feed)
    }

    func cancel(_ id: Int64) async {
        let (found, task): (Bool, Task<Void, Never>?) = state.withLock { s in
            guard s.watchers[id]?.ending == false, let w = s.watchers.removeValue(forKey: id) else { return (false, nil) }
            guard let g = w.group else { return (true, nil) }  // its group is not started yet
            return (true, s.leave(g, id))  // the group's task when it was the last member
        }
        guard found else { return }
        task?.cancel()
        await task?.value
        var r = Etcdserverpb_WatchResponse()
        r.header = headers.make(revision: await currentRevision())
        r.watchID = id
        r.canceled = true
        _ = await queue.push(r)
    }

    /// etcd 3.4's RequestProgress: one response with watch ID -1, at a revision every
    /// watcher of the stream is synced through (so it is a valid bookmark for all).
    func requestProgress() async {
        let current = await currentRevision()
        let revision = state.withLock { s in s.watchers.values.reduce(current) { min($0, $1.syncedThrough) } }
        var r = Etcdserverpb_WatchResponse()
        r.header = headers.make(revision: revision)
        r.watchID = Self.invalidWatchID
        _ = await queue.push(r)
    }

    // MARK: responses

    /// The responses carrying `events` (non-empty, filtered) to watcher `id`: one, its
    /// events encoded once for every watcher (`EncodedEvents`), unless it fragments.
    func responses(_ id: Int64, _ w: Watcher, _ events: [WatchEvent],
                   header: Etcdserverpb_ResponseHeader) -> [Etcdserverpb_WatchResponse] {
        if !w.fragment, let r = try? encoded?.response(watchID: id, header: header, events: events) { return [r] }
        return WatchFragmenter.responses(watchID: id, events: events.map(KVConversion.event), header: header,
                                         fragment: w.fragment, maxBytes: limits.maxRequestBytes)
    }

    // MARK: progress notify

    /// One progress_notify round: every synced watcher that asked for it and had no events
    /// since the last round gets an empty response at its synced revision.
    func progressTick() async {
        let due: [(Int64, Int64)] = state.withLock { s in
            var due: [(Int64, Int64)] = []
            for (id, w) in s.watchers {
                if w.progressNotify && w.synced && !w.ending && !w.sentSinceTick && w.syncedThrough >= w.silentBelow {
                    due.append((id, w.syncedThrough))
                }
                s.watchers[id]!.sentSinceTick = false
            }
            return due
        }
        for (id, revision) in due.sorted(by: { $0.0 < $1.0 }) {
            var r = Etcdserverpb_WatchResponse()
            r.header = headers.make(revision: revision)
            r.watchID = id
            guard await queue.push(r) else { return }
        }
    }

    // MARK: lifecycle

    /// Ends every watcher and the response queue.
    func close() {
        let tasks: [Task<Void, Never>] = state.withLock { s in
            s.closed = true
            let tasks = s.groups.values.compactMap(\.task)
            s.watchers.removeAll()
            s.groups.removeAll()
            s.openGroups.removeAll()
            return tasks
        }
        for t in tasks { t.cancel() }
        queue.finish()
    }

    static func less(_ a: [UInt8], _ b: [UInt8]) -> Bool { a.lexicographicallyPrecedes(b) }
}
