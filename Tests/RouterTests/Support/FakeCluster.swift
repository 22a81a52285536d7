import API
import Base
import MVCC
import Node
import Router
import Synchronization

/// An in-memory cluster behind `ClusterAccess` for the router tests: user ranges, each an
/// `MVCCStore` over one shared `InMemoryBackend` (like a node's file), a shared revision
/// counter as the oracle, a leader per range, request-ID de-duplication per range, a lease
/// table, and injectable faults (not leader, epoch mismatch, timeouts before / after
/// applying, dropped proposals, failing feeds) plus splits and leader moves. Everything
/// runs under one lock, so every write applies at the next revision in call order.
final class FakeCluster: ClusterAccess, Sendable {
    /// A fault the next call (propose or read) to a range meets.
    enum Fault: Sendable, Equatable {
        /// `hint == nil`: the real leader is hinted.
        case notLeader(hint: NodeID?)
        case epochMismatch
        case timeoutBeforeApply
        /// The write applies, but the caller hears `timeout` (outcome unknown).
        case timeoutAfterApply
        case dropped
        /// The range refuses the command for good (`ProposalError.rejected`, not retried).
        case rejected
        /// The range splits at the key (before the call), which then meets the new epoch.
        case split(at: [UInt8])
    }

    struct FakeRange {
        var descriptor: RangeDescriptor
        var store: MVCCStore
        var leader: NodeID
        var outcomes: [UInt64: Result<CommandResult, ProposalError>] = [:]
        var appliedIndex: UInt64 = 1
    }

    struct State {
        var ranges: [RangeID: FakeRange] = [:]
        var revision: Int64 = 1
        var nextRangeID: UInt64 = 2
        var faults: [RangeID: [Fault]] = [:]
        var feedFaults: [RangeID: [ProposalError]] = [:]
        var leases: [Int64: LeaseRecord] = [:]
        var expired: Set<Int64> = []
        /// Leases whose revoke began (`leaseBeginRevoke`) and whose record is not removed yet.
        var revoking: Set<Int64> = []
        var nextLease: Int64 = 1000
        var applied = 0
        var deduplicated = 0
        var calls = 0
        var usedRequestIDs: [UInt64] = []
        var feedsOpened = 0
        /// Leases revoked completely (record removed, keys deleted) just before the next put
        /// attaching them applies: a put whose lease lookup raced the revoke.
        var revokeBeforePut: Set<Int64> = []
        /// (lease, key): a put of `key` attaching `lease` applied right after the first
        /// revoke sweep of `lease` in the key's range (before the record is removed).
        var putAfterSweep: (lease: Int64, key: [UInt8])?
    }

    let localNode: NodeID
    let nodeIDs: [NodeID] = [NodeID(1), NodeID(2), NodeID(3)]
    let backend = InMemoryBackend()
    let state: Mutex<State>

    /// Ranges split at `splitKeys` (sorted); range i is led by node (i % 3) + 1. Ranges in
    /// `remote` have no replica on the local node (node 1).
    init(splitKeys: [[UInt8]], remote: Set<Int> = []) throws {
        localNode = NodeID(1)
        var s = State()
        let bounds: [[UInt8]] = [[]] + splitKeys
        for (i, start) in bounds.enumerated() {
            let end: [UInt8]? = i + 1 < bounds.count ? bounds[i + 1] : nil
            let id = RangeID(s.nextRangeID)
            s.nextRangeID += 1
            let nodes = remote.contains(i) ? [NodeID(2), NodeID(3)] : nodeIDs
            let d = RangeDescriptor(rangeID: id, startKey: start, endKey: end,
                                    replicas: nodes.enumerated().map { .init(nodeID: $1, replicaID: UInt64($0 + 1)) })
            let store = try MVCCStore.create(backend: backend, rangeID: id, start: start, end: end)
            store.advanceRevision(to: 1)
            s.ranges[id] = FakeRange(descriptor: d, store: store, leader: nodes[i % nodes.count])
        }
        state = Mutex(s)
    }

    // MARK: test controls

    /// Replaces the faults pending for `range` with `times` × `fault`.
    func inject(_ fault: Fault, into range: RangeID, times: Int = 1) {
        state.withLock { $0.faults[range] = Array(repeating: fault, count: times) }
    }

    /// Replaces the faults pending for `range` with `faults`, met in order.
    func inject(sequence faults: [Fault], into range: RangeID) {
        state.withLock { $0.faults[range] = faults }
    }

    func injectFeedFailure(_ error: ProposalError, into range: RangeID) {
        state.withLock { $0.feedFaults[range, default: []].append(error) }
    }

    /// The next put attaching `lease` finds it revoked (after the router's lookup).
    func revokeBeforeNextPut(lease: Int64) { state.withLock { _ = $0.revokeBeforePut.insert(lease) } }

    /// Right after the first revoke sweep of `lease` in `key`'s range, a put of `key`
    /// attaching `lease` applies (its lookup saw the lease live).
    func putAfterFirstSweep(lease: Int64, key: [UInt8]) { state.withLock { $0.putAfterSweep = (lease, key) } }

    /// The keys attached to `lease` in every range.
    func keysAttached(to lease: Int64) throws -> [[UInt8]] {
        try state.withLock { s in try s.ranges.values.flatMap { try $0.store.keys(attachedTo: lease) } }
    }

    func moveLeader(of range: RangeID, to node: NodeID) {
        state.withLock { $0.ranges[range]?.leader = node }
    }

    /// Splits the range holding `key` at `key`; returns the new right range's ID.
    @discardableResult
    func split(at key: [UInt8]) throws -> RangeID? {
        try state.withLock { s in try Self.split(&s, at: key) }
    }

    private static func split(_ s: inout State, at key: [UInt8]) throws -> RangeID? {
        guard let (id, r) = s.ranges.first(where: { $0.value.descriptor.contains(key) }),
            r.descriptor.startKey != key
        else { return nil }
        let rightID = RangeID(s.nextRangeID)
        s.nextRangeID += 1
        var left = r.descriptor
        left.endKey = key
        left.epoch.version += 1
        var right = r.descriptor
        right.rangeID = rightID
        right.startKey = key
        right.epoch.version += 1
        let rightStore = try r.store.split(at: key, rightRangeID: rightID, leftDescriptor: [], rightDescriptor: [],
                                           appliedIndex: r.appliedIndex, rightAppliedIndex: 1)
        s.ranges[id]!.descriptor = left
        s.ranges[rightID] = FakeRange(descriptor: right, store: rightStore, leader: r.leader, outcomes: r.outcomes)
        return rightID
    }

    func rangeID(of key: [UInt8]) -> RangeID {
        state.withLock { s in s.ranges.first { $0.value.descriptor.contains(key) }!.key }
    }

    /// The ranges holding some key of `span`.
    func rangeIDs(overlapping span: KeySpan) -> Set<RangeID> {
        state.withLock { s in Set(s.ranges.values.filter { KeySpan($0.descriptor).overlaps(span) }.map(\.descriptor.rangeID)) }
    }

    var rangeCount: Int { state.withLock { $0.ranges.count } }
    var feedsOpened: Int { state.withLock { $0.feedsOpened } }
    var deduplicated: Int { state.withLock { $0.deduplicated } }
    var applied: Int { state.withLock { $0.applied } }
    var usedRequestIDs: [UInt64] { state.withLock { $0.usedRequestIDs } }

    /// Marks a lease expired: lookups miss it, `expiredLeases` reports it.
    func expire(_ id: Int64) { state.withLock { _ = $0.expired.insert(id) } }

    // MARK: ClusterAccess

    func routes() async throws -> [RangeRoute] {
        state.withLock { s in
            s.ranges.values.map { RangeRoute(descriptor: $0.descriptor, leaderHint: $0.leader) }
                .sorted { $0.descriptor.startKey.lexicographicallyPrecedes($1.descriptor.startKey) }
        }
    }

    func freshRevision() async throws(ProposalError) -> Int64 {
        state.withLock { s in
            s.revision += 1
            return s.revision
        }
    }

    /// Checks faults, leadership and epoch for a call on `range` at `node`.
    private static func admit(_ s: inout State, _ range: RangeID, _ epoch: RangeDescriptor.Epoch, _ node: NodeID)
        throws(ProposalError) -> Fault?
    {
        s.calls += 1
        guard let r = s.ranges[range] else { throw .rangeNotFound(range) }
        if var queue = s.faults[range], !queue.isEmpty {
            let f = queue.removeFirst()
            s.faults[range] = queue
            switch f {
            case .notLeader(let hint): throw .notLeader(leaderHint: hint ?? r.leader)
            case .epochMismatch: throw .epochMismatch(current: r.descriptor)
            case .timeoutBeforeApply: throw .timeout
            case .dropped: throw .proposalDropped("injected")
            case .rejected: throw .rejected(.compacted)
            case .timeoutAfterApply: break
            case .split(let key):
                do { _ = try Self.split(&s, at: key) } catch { throw .proposalDropped("\(error)") }
                throw .epochMismatch(current: s.ranges[range]!.descriptor)
            }
            guard node == r.leader else { throw .notLeader(leaderHint: r.leader) }
            guard epoch == r.descriptor.epoch else { throw .epochMismatch(current: r.descriptor) }
            return f
        }
        guard node == r.leader else { throw .notLeader(leaderHint: r.leader) }
        guard epoch == r.descriptor.epoch else { throw .epochMismatch(current: r.descriptor) }
        return nil
    }

    func propose(_ body: RaftCommand.Body, range: RangeID, epoch: RangeDescriptor.Epoch, requestID: UInt64,
                 on node: NodeID) async throws(ProposalError) -> CommandResult {
        let (outcome, fault): (Result<CommandResult, ProposalError>, Fault?) = try state.withLock { s throws(ProposalError) in
            let fault = try Self.admit(&s, range, epoch, node)
            s.usedRequestIDs.append(requestID)
            if let prior = s.ranges[range]!.outcomes[requestID] {
                s.deduplicated += 1
                return (prior, fault)
            }
            var leases: [Int64] = []
            if case .put(let p) = body.withoutGrants { leases = [p.lease] }
            if case .txn(let t) = body.withoutGrants { leases = TxnFootprint.putLeases(of: t) }
            for lease in leases where lease != 0 && s.revokeBeforePut.remove(lease) != nil {
                s.leases[lease] = nil
                for id in Array(s.ranges.keys) { _ = Self.apply(.revokeLease(lease), &s, id) }
            }
            let result = Self.apply(body, &s, range)
            s.ranges[range]!.outcomes[requestID] = result
            if case .revokeLease(let lease) = body.withoutGrants, let race = s.putAfterSweep, race.lease == lease,
                s.ranges[range]!.descriptor.contains(race.key) {
                s.putAfterSweep = nil
                _ = Self.apply(.put(PutRequest(key: race.key, value: [9], lease: lease)), &s, range)
            }
            return (result, fault)
        }
        if fault == .timeoutAfterApply { throw .timeout }
        return try outcome.get()
    }

    /// Lease grants a command names are ignored here (the real range's `RevokedLeases`
    /// is tested in NodeTests).
    private static func apply(_ body: RaftCommand.Body, _ s: inout State, _ range: RangeID) -> Result<CommandResult, ProposalError> {
        if case .granted(_, let inner) = body { return apply(inner, &s, range) }
        let store = s.ranges[range]!.store
        func next() -> Int64 {
            s.revision += 1
            return s.revision
        }
        do {
            let result: CommandResult
            switch body {
            case .put(let p): result = .put(try store.put(p, revision: next()))
            case .deleteRange(let d): result = .deleteRange(try store.deleteRange(d, revision: next()))
            case .txn(let t): result = .txn(try store.txn(t, revision: t.isReadOnly ? nil : next()))
            case .compact(let rev):
                guard rev <= s.revision else { throw MVCCError.futureRevision }
                store.advanceRevision(to: rev)
                result = .compact(try store.compact(rev))
            case .revokeLease(let id):
                let keys = try store.keys(attachedTo: id)
                if keys.isEmpty {
                    result = .revokeLease(DeleteRangeResponse(revision: 0))
                } else {
                    let t = TxnRequest(success: keys.map { .deleteRange(DeleteRangeRequest(key: $0)) })
                    let r = try store.txn(t, revision: next())
                    result = .revokeLease(DeleteRangeResponse(revision: r.revision, deleted: Int64(keys.count)))
                }
            case .noOp, .system: result = .noOp
            case .granted: fatalError("unwrapped above")
            }
            s.ranges[range]!.appliedIndex += 1
            try store.commit(appliedIndex: s.ranges[range]!.appliedIndex)
            s.applied += 1
            return .success(result)
        } catch let e as MVCCError {
            return .failure(.rejected(e))
        } catch {
            return .failure(.proposalDropped("\(error)"))
        }
    }

    func read(_ request: RangeRequest, range: RangeID, epoch: RangeDescriptor.Epoch,
              on node: NodeID) async throws(ProposalError) -> RangeResponse {
        try state.withLock { s throws(ProposalError) in
            if try Self.admit(&s, range, epoch, node) == .timeoutAfterApply { throw .timeout }
            precondition(request.revision > 0 && request.revision <= s.revision, "router read at \(request.revision)")
            let store = s.ranges[range]!.store
            store.advanceRevision(to: request.revision)
            do {
                var resp = try store.range(request)
                resp.revision = request.revision
                return resp
            } catch let e as MVCCError {
                throw .rejected(e)
            } catch {
                throw .proposalDropped("\(error)")
            }
        }
    }

    func localRead(_ request: RangeRequest, range: RangeID) async throws(ProposalError) -> RangeResponse {
        try state.withLock { s throws(ProposalError) in
            guard let r = s.ranges[range], r.descriptor.replica(on: localNode) != nil else { throw .rangeNotFound(range) }
            let resolved = r.store.currentRevision
            guard request.revision <= resolved else { throw .proposalDropped("not resolved yet") }
            do {
                var req = request
                if req.revision <= 0 { req.revision = resolved }
                var resp = try r.store.range(req)
                resp.revision = req.revision
                return resp
            } catch let e as MVCCError {
                throw .rejected(e)
            } catch {
                throw .proposalDropped("\(error)")
            }
        }
    }

    /// Serves the range's events while its descriptor is at `epoch` (the route's), as the
    /// node does; `feedsOpened` counts the calls.
    func feed(range: RangeID, epoch: RangeDescriptor.Epoch, from: Int64, prevKV: Bool,
              on node: NodeID) -> AsyncThrowingStream<RangeFeedItem, any Error> {
        state.withLock { $0.feedsOpened += 1 }
        let cursor = Mutex((next: from, reported: from - 1, done: false))
        return AsyncThrowingStream(unfolding: { [self] in
            while true {
                if cursor.withLock({ $0.done }) { return nil }
                let item: RangeFeedItem? = try state.withLock { s in
                    guard let r = s.ranges[range] else { throw ProposalError.rangeNotFound(range) }
                    if var q = s.feedFaults[range], !q.isEmpty {
                        let e = q.removeFirst()
                        s.feedFaults[range] = q
                        throw e
                    }
                    guard r.descriptor.epoch == epoch else {
                        throw ProposalError.epochMismatch(current: r.descriptor)
                    }
                    let (next, reported) = cursor.withLock { ($0.next, $0.reported) }
                    let start = r.descriptor.startKey.isEmpty ? [0] : r.descriptor.startKey
                    switch try r.store.events(key: start, rangeEnd: r.descriptor.endKey ?? [0], fromRevision: next,
                                              prevKV: prevKV, limit: 3) {
                    case .compacted(let c):
                        cursor.withLock { $0.done = true }
                        return .compacted(compactRevision: c)
                    case .events(let events, let nextRevision):
                        let resolved = nextRevision > r.store.currentRevision ? s.revision : nextRevision - 1
                        guard !events.isEmpty || resolved > reported else { return nil }
                        cursor.withLock {
                            $0.next = resolved + 1
                            $0.reported = resolved
                        }
                        return .events(events, resolved: resolved)
                    }
                }
                if let item { return item }
                try await Task.sleep(for: .milliseconds(1))
            }
        })
    }

    func leaseGrant(id: Int64, ttl: Int64) async throws -> LeaseRecord {
        try state.withLock { s in
            var id = id
            if id == 0 {
                s.nextLease += 1
                id = s.nextLease
            }
            if s.leases[id] != nil { throw EtcdError.leaseExists }
            let record = LeaseRecord(id: id, grantedTTL: max(ttl, 2), remainingTTL: max(ttl, 2))
            s.leases[id] = record
            return record
        }
    }

    func leaseLookup(id: Int64) async throws -> LeaseRecord? {
        state.withLock { s in s.expired.contains(id) || s.revoking.contains(id) ? nil : s.leases[id] }
    }

    func leaseKeepAlive(id: Int64) async throws -> LeaseRecord? {
        state.withLock { s in s.expired.contains(id) || s.revoking.contains(id) ? nil : s.leases[id] }
    }

    /// As the system range's mark: idempotent, nil for an unknown lease.
    func leaseBeginRevoke(id: Int64) async throws -> LeaseRecord? {
        state.withLock { s in
            guard var record = s.leases[id] else { return nil }
            s.revoking.insert(id)
            record.remainingTTL = 0
            return record
        }
    }

    func leaseRemove(id: Int64) async throws -> Bool {
        state.withLock { s in
            s.expired.remove(id)
            s.revoking.remove(id)
            return s.leases.removeValue(forKey: id) != nil
        }
    }

    func leases() async throws -> [LeaseRecord] {
        state.withLock { s in s.leases.values.filter { !s.expired.contains($0.id) && !s.revoking.contains($0.id) } }
    }

    /// Expired and revoking leases (no grace period here: a revoking lease is due at once).
    func expiredLeases() async throws -> [Int64] {
        state.withLock { s in s.expired.union(s.revoking).filter { s.leases[$0] != nil }.sorted() }
    }

    func nodes() async throws -> [NodeRecord] {
        nodeIDs.map { NodeRecord(nodeID: $0, name: "node\($0.rawValue)", clientURLs: ["http://127.0.0.1:\(2378 + Int($0.rawValue))"], peerURLs: []) }
    }
}
