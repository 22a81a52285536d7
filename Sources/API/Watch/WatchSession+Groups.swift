import MVCC
import Proto
import Synchronization

/// Watchers of one stream watching the same keys share one backend feed and one task: each
/// feed item becomes the response of every member in one step (one wake-up, one queue
/// operation), instead of one feed, one task and one wake-up per watcher. Ten watchers of a
/// key on one stream (the watch bench; clients that watch a key from several places over
/// one connection) cost about one.
///
/// Joining: a watcher of the same key, range end and prev_kv joins the stream's open group
/// of that key when the group has handed out nothing at or above the watcher's first
/// revision (`FeedGroup.syncedThrough < first`): every event it must report is still to come
/// from the shared feed. Else (a watch from an older revision) it gets a feed of its own
/// and becomes the open group. Each member reports only events from its first revision on,
/// with its own filters, fragmenting and progress state, so it sees what a feed of its own
/// would show.
///
/// Ordering: a joiner's `created` response is queued under the session lock together with
/// the join, and the group queues members' responses under the same lock after checking
/// membership, so `created` precedes a member's events and no event follows its `canceled`.
extension WatchSession {
    /// What watchers must share to share a feed.
    struct FeedGroupKey: Hashable {
        let key: [UInt8]
        let rangeEnd: [UInt8]
        let prevKV: Bool
    }

    /// One shared feed's watchers and how far it has handed events out.
    struct FeedGroup {
        let key: FeedGroupKey
        /// Member watcher ID → its first revision (events below it are not its own).
        var members: [Int64: Int64]
        /// Every event <= this has been handed to the members of the time.
        var syncedThrough: Int64
        var task: Task<Void, Never>?
    }

    /// Joins watcher `id` (reserved, not yet created) to the open group of `group` when it can,
    /// queueing its `created` response; false when it cannot (no group, or the group is past
    /// `first`).
    func join(_ id: Int64, group: FeedGroupKey, first: Int64, current: Int64) -> Bool {
        var created = Etcdserverpb_WatchResponse()
        created.header = headers.make(revision: current)
        created.watchID = id
        created.created = true
        return state.withLock { s in
            guard !s.closed, s.watchers[id] != nil, let g = s.openGroups[group], s.groups[g] != nil,
                  s.groups[g]!.syncedThrough < first,
                  queue.pushNow(contentsOf: [created], force: true) == .pushed
            else { return false }
            s.groups[g]!.members[id] = first
            s.watchers[id]!.group = g
            return true
        }
    }

    /// Makes watcher `id` (created) the first member of a new open group of `group` over
    /// `feed`, and starts the group's task.
    func startGroup(_ id: Int64, group: FeedGroupKey, first: Int64, feed: WatchEventStream) {
        let gid: Int64? = state.withLock { s in
            guard !s.closed, s.watchers[id] != nil else { return nil }  // canceled meanwhile
            s.nextGroupID += 1
            s.groups[s.nextGroupID] = FeedGroup(key: group, members: [id: first], syncedThrough: first - 1)
            s.openGroups[group] = s.nextGroupID
            s.watchers[id]!.group = s.nextGroupID
            return s.nextGroupID
        }
        guard let gid else { return }
        let task = Task { await self.runGroup(gid, feed: feed) }
        let keep = state.withLock { s in
            guard s.groups[gid] != nil else { return false }
            s.groups[gid]!.task = task
            return true
        }
        if !keep { task.cancel() }
    }

    private func runGroup(_ gid: Int64, feed: WatchEventStream) async {
        do {
            for try await item in feed {
                switch item {
                case .events(let events, let synced):
                    guard await deliver(gid, events, synced: synced) else { return }
                case .progress(let synced):
                    guard progress(gid, synced: synced) else { return }
                case .compacted(let compactRevision):
                    return await end(gid) { $0.compactRevision = compactRevision }
                }
            }
        } catch {
            if Task.isCancelled || error is CancellationError { return }
            let reason = ErrorMapping.rpcError(error).message
            await end(gid) { $0.cancelReason = reason }
        }
    }

    /// Hands one feed item to every member: its events from the member's first revision
    /// on, filtered, in one queue operation; then the members' synced revisions. False
    /// when the group is gone or the queue finished.
    private func deliver(_ gid: Int64, _ events: [WatchEvent], synced: Int64) async -> Bool {
        let members: [(id: Int64, watcher: Watcher, first: Int64)]? = state.withLock { s in
            guard s.groups[gid] != nil else { return nil }
            s.groups[gid]!.syncedThrough = max(s.groups[gid]!.syncedThrough, synced)
            return s.groups[gid]!.members.compactMap { id, first in s.watchers[id].map { (id: id, watcher: $0, first: first) } }
        }
        guard let members else { return false }
        let header = headers.make(revision: synced)
        var out: [(Int64, Etcdserverpb_WatchResponse)] = []
        var sent: Set<Int64> = []
        var quiet: Set<Int64> = []  // nothing at or above its first revision: a progress step for it
        for m in members.sorted(by: { $0.id < $1.id }) {
            let own = events.first.map { $0.kv.modRevision >= m.first } == true
                ? events : events.filter { $0.kv.modRevision >= m.first }
            if own.isEmpty {
                quiet.insert(m.id)
                continue
            }
            let w = m.watcher
            let kept = !w.noPut && !w.noDelete ? own
                : own.filter { e in !(w.noPut && e.kind == .put) && !(w.noDelete && e.kind == .delete) }
            guard !kept.isEmpty else { continue }
            sent.insert(m.id)
            for r in responses(m.id, w, kept, header: header) { out.append((m.id, r)) }
        }
        if !out.isEmpty { guard await enqueue(out, of: gid) else { return false } }
        state.withLock { s in
            for m in members where s.watchers[m.id]?.group == gid {
                s.watchers[m.id]!.syncedThrough = max(s.watchers[m.id]!.syncedThrough, synced)
                s.watchers[m.id]!.synced = quiet.contains(m.id)
                if sent.contains(m.id) { s.watchers[m.id]!.sentSinceTick = true }
            }
        }
        return true
    }

    /// Queues `responses` (watcher ID, response) of the watchers still members, checked
    /// and queued under the session lock; waits for room while the queue is full.
    private func enqueue(_ responses: [(Int64, Etcdserverpb_WatchResponse)], of gid: Int64) async -> Bool {
        while !Task.isCancelled {
            let outcome: PushNowOutcome? = state.withLock { s in
                guard let g = s.groups[gid] else { return nil }
                let live = responses.filter { g.members[$0.0] != nil && s.watchers[$0.0]?.ending == false }
                return queue.pushNow(contentsOf: live.map(\.1))
            }
            switch outcome {
            case .pushed?: return true
            case .finished?, nil: return false
            case .full?: await queue.waitForRoom(for: responses.count)
            }
        }
        return false
    }

    /// A bookmark for every member. False when the group is gone.
    private func progress(_ gid: Int64, synced: Int64) -> Bool {
        state.withLock { s in
            guard s.groups[gid] != nil else { return false }
            s.groups[gid]!.syncedThrough = max(s.groups[gid]!.syncedThrough, synced)
            for id in s.groups[gid]!.members.keys where s.watchers[id] != nil {
                s.watchers[id]!.syncedThrough = max(s.watchers[id]!.syncedThrough, synced)
                s.watchers[id]!.synced = true
            }
            return true
        }
    }

    /// The feed ended (compacted or failed): every member is canceled (`fill` sets why).
    /// Members stay counted by progress requests until their cancel is queued.
    private func end(_ gid: Int64, _ fill: (inout Etcdserverpb_WatchResponse) -> Void) async {
        let ids: [Int64] = state.withLock { s in
            guard let g = s.groups[gid] else { return [] }
            if s.openGroups[g.key] == gid { s.openGroups[g.key] = nil }  // nobody joins any more
            var ids: [Int64] = []
            for id in g.members.keys.sorted() where s.watchers[id]?.ending == false {
                s.watchers[id]!.ending = true
                ids.append(id)
            }
            return ids
        }
        if !ids.isEmpty {
            let revision = await currentRevision()
            for id in ids {
                var r = Etcdserverpb_WatchResponse()
                r.header = headers.make(revision: revision)
                r.watchID = id
                r.canceled = true
                fill(&r)
                _ = await queue.push(r)
                _ = state.withLock { $0.watchers.removeValue(forKey: id) }
            }
        }
        state.withLock { s in _ = s.groups.removeValue(forKey: gid) }
    }
}

extension WatchSession.State {
    /// Removes watcher `id` from group `gid`; the group's task when it was the last member
    /// (to cancel).
    mutating func leave(_ gid: Int64, _ id: Int64) -> Task<Void, Never>? {
        guard var g = groups[gid] else { return nil }
        g.members[id] = nil
        guard g.members.isEmpty else {
            groups[gid] = g
            return nil
        }
        groups[gid] = nil
        if openGroups[g.key] == gid { openGroups[g.key] = nil }
        return g.task
    }
}
