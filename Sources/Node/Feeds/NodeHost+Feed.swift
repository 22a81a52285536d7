public import Base
public import MVCC

/// How this node asks the leader of a range it does not lead to close it: (leader node,
/// range, revision) → the leader's log index to wait for (`NodeHost.closeForFollower` on
/// the leader, reached through the node calls).
public typealias RemoteCloser = @Sendable (NodeID, RangeID, Int64) async throws(ProposalError) -> UInt64

/// Change feeds of this node's replicas and the closer that keeps their resolved
/// revisions moving: every `closeIntervalMs`, for all ranges with feed consumers at once,
/// R = one fresh revision; ranges led here are closed at R through ReadIndex, ranges led
/// elsewhere through the `RemoteCloser`; R becomes resolved when the wait index applied.
extension NodeHost {
    /// Consumers not seen for this long stop being closed for.
    static let feedIdleNs: UInt64 = 30_000_000_000

    /// Sets how ranges led by other nodes are closed for this node's feeds (default: a
    /// `closeForFollower` node call to the leader, once `callTransport` is set).
    public func setRemoteCloser(_ closer: RemoteCloser?) { remoteCloser.withLock { $0 = closer } }

    /// Closes through a `closeForFollower` node call to the leader (nil without a transport).
    func defaultRemoteCloser() -> RemoteCloser? {
        guard callTransport != nil else { return nil }
        let client = callClient(timeoutMs: config.proposalTimeoutMs)
        return { @Sendable leader, range, revision throws(ProposalError) in
            try await client.closeForFollower(range: range, revision: revision, on: leader)
        }
    }

    func startCloser() {
        let interval = max(1, config.closeIntervalMs)
        let task = Task.detached { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(interval))
                guard let self, !self.stopped.load(ordering: .acquiring) else { return }
                self.resolved.expireWaiters(now: Self.nowNs())
                await self.closeFeedRanges()
            }
        }
        closer.withLock { $0 = task }
    }

    /// One closer step for every range with feed consumers.
    func closeFeedRanges() async {
        let ranges = resolved.activeConsumers(now: Self.nowNs(), idleNs: Self.feedIdleNs)
        guard !ranges.isEmpty, let revision = try? await freshRevision() else { return }
        // Without an explicit closer, ask the leader through the node calls.
        let remote: RemoteCloser? = remoteCloser.withLock { $0 } ?? defaultRemoteCloser()
        await withTaskGroup(of: Void.self) { group in
            for range in ranges {
                guard let view = view(of: range) else {
                    resolved.forget(range)
                    continue
                }
                group.addTask { [self] in
                    let index: UInt64?
                    if view.isLeader {
                        index = try? await closeRange(range, at: revision)
                    } else if view.leaderNode != .none, let remote {
                        index = try? await remote(view.leaderNode, range, revision)
                    } else {
                        index = nil
                    }
                    if let index { resolved.note(range, revision: revision, atIndex: index) }
                }
            }
        }
    }

    /// The next feed batch of `range` from `from` (see `NodeHost+Cluster.swift`).
    func feedBatch(range: RangeID, epoch: RangeDescriptor.Epoch?, from: Int64, prevKV: Bool, maxEvents: Int,
                   waitMs: Int) async throws(ProposalError) -> RangeFeedItem {
        let from = max(from, 1)
        let deadline = Self.nowNs() + UInt64(max(0, waitMs)) * 1_000_000
        while true {
            guard let view = view(of: range) else { throw .rangeNotFound(range) }
            try checkFeedEpoch(range, epoch)
            let resolvedNow = resolved.touch(range, now: Self.nowNs())
            let store = view.store
            if from < store.compactedRevision { return .compacted(compactRevision: store.compactedRevision) }
            if resolvedNow >= from {
                let start = view.descriptor.startKey
                let result: EventsResult
                do {
                    // From-key over the whole keyspace; the store keeps only its range's keys.
                    result = try store.events(key: start.isEmpty ? [0] : start, rangeEnd: [0], fromRevision: from,
                                              prevKV: prevKV, limit: max(1, maxEvents))
                } catch let e as MVCCError {
                    throw .rejected(e)
                } catch {
                    throw .proposalDropped("feed of \(range): \(error)")
                }
                // A split or merge applied during the scan changed the span it covered.
                try checkFeedEpoch(range, epoch)
                switch result {
                case .compacted(let c):
                    return .compacted(compactRevision: c)
                case .events(let events, let next):
                    // Every write <= resolvedNow had applied before the scan. A scan that
                    // reached the store's latest revision (read after it) saw them all; one
                    // cut short by `maxEvents` covers up to its last revision only.
                    let complete = next - 1 >= store.currentRevision
                    let upTo = complete ? resolvedNow : min(resolvedNow, next - 1)
                    return .events(events.filter { $0.kv.modRevision <= upTo }, resolved: upTo)
                }
            }
            if Self.nowNs() >= deadline || Task.isCancelled || stopped.load(ordering: .acquiring) {
                try checkFeedEpoch(range, epoch)
                return .events([], resolved: resolvedNow)
            }
            // Parked until the closer or apply moves the resolved revision (or the deadline).
            await resolved.waitForAdvance(range, beyond: resolvedNow, deadlineNs: deadline)
        }
    }

    /// Throws `.epochMismatch` (or `.rangeNotFound`) unless this node's replica of `range`
    /// is at `epoch` (nil: no check).
    func checkFeedEpoch(_ range: RangeID, _ epoch: RangeDescriptor.Epoch?) throws(ProposalError) {
        guard let epoch else { return }
        guard let d = view(of: range)?.descriptor else { throw .rangeNotFound(range) }
        if d.epoch != epoch { throw .epochMismatch(current: d) }
    }
}
