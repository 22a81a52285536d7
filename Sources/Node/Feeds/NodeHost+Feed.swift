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

    /// Asks for `range` to be closed now rather than at the next closer tick: a consumer
    /// holds events of another range that it can release only once this one is resolved past
    /// them (a watch spanning ranges, `MergedWatchFeed`). Demands are coalesced: the closer
    /// takes every range demanded since its last round in one close round (one fresh
    /// revision, a ReadIndex or close call per range), and runs at most one round at a time.
    /// The fresh revision is above every revision handed out before the round started, so
    /// above the events that prompted the demand. No-op with `NodeConfig.closeOnDemand` off.
    public func demandClose(_ range: RangeID) {
        guard config.closeOnDemand else { return }
        closeDemand.add(range)
    }

    /// Close rounds the closer ran on demand rather than on its tick (tests, metrics).
    public var closeRoundsOnDemand: UInt64 { closesOnDemand.load(ordering: .relaxed) }

    /// The closer: every `closeIntervalMs` it expires parked long polls and closes every
    /// range with feed consumers; in between it closes the ranges demanded (`demandClose`)
    /// as soon as they are, at most one on-demand round per `closeOnDemandGapMs`.
    func startCloser() {
        let intervalNs = UInt64(max(1, config.closeIntervalMs)) * 1_000_000
        let gapNs = UInt64(max(0, config.closeOnDemandGapMs)) * 1_000_000
        let demand = closeDemand
        let task = Task.detached { [weak self] in
            var nextTick = Self.nowNs() + intervalNs
            var lastDemandRoundNs: UInt64 = 0
            while !Task.isCancelled {
                let now = Self.nowNs()
                var demanded = now < nextTick ? await demand.wait(timeout: .nanoseconds(nextTick - now)) : []
                let paceUntil = lastDemandRoundNs + gapNs
                let t = Self.nowNs()
                if !demanded.isEmpty, paceUntil > t {
                    // Paced: later demands join this round. (One clock reading: a second one
                    // could be past `paceUntil` and underflow, which crashed a node under load.)
                    try? await Task.sleep(for: .nanoseconds(paceUntil - t))
                    demanded.formUnion(demand.take())
                }
                guard let self, !self.stopped.load(ordering: .acquiring), !Task.isCancelled else { return }
                if Self.nowNs() >= nextTick {
                    nextTick = Self.nowNs() + intervalNs
                    self.resolved.expireWaiters(now: Self.nowNs())
                    await self.closeFeedRanges()
                } else if !demanded.isEmpty {
                    lastDemandRoundNs = Self.nowNs()
                    self.closesOnDemand.add(1, ordering: .relaxed)
                    if await !self.closeFeedRanges(only: demanded) {
                        // A range could not be closed (no leader, timeout): its consumers demand
                        // it again at once; pace the retries.
                        try? await Task.sleep(for: .milliseconds(Self.demandRetryPauseMs))
                    }
                }
            }
        }
        closer.withLock { $0 = task }
    }

    /// Pause after a demanded close round in which some close failed.
    static let demandRetryPauseMs = 10

    /// One closer step for every range with feed consumers (`only`: those of them). False when
    /// some range could not be closed.
    @discardableResult
    func closeFeedRanges(only wanted: Set<RangeID>? = nil) async -> Bool {
        var ranges = resolved.activeConsumers(now: Self.nowNs(), idleNs: Self.feedIdleNs)
        if let wanted { ranges = ranges.filter { wanted.contains($0) } }
        guard !ranges.isEmpty else { return true }
        guard let revision = try? await freshRevision() else { return false }
        // Without an explicit closer, ask the leader through the node calls.
        let remote: RemoteCloser? = remoteCloser.withLock { $0 } ?? defaultRemoteCloser()
        return await withTaskGroup(of: Bool.self) { group in
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
                    return index != nil
                }
            }
            var all = true
            for await closed in group where !closed { all = false }
            return all
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
                    // Usually every event is <= upTo: no copy then.
                    let last = events.last?.kv.modRevision ?? 0
                    return .events(last <= upTo ? events : events.filter { $0.kv.modRevision <= upTo }, resolved: upTo)
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
