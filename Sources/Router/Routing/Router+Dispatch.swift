import API
import Base
import MVCC
import Node

/// The part of a request one range answered: the key span it covered and its answer.
struct Piece<T: Sendable>: Sendable {
    var span: KeySpan
    var range: RangeID
    var value: T
}

/// One range operation as the dispatcher runs it: on `node` (believed to lead the route's
/// range), for the part `span` of the request, with the request ID to propose under (the
/// same on every retry of this part).
typealias RangeOp<T> = @Sendable (_ route: RangeRoute, _ span: KeySpan, _ node: NodeID, _ requestID: UInt64)
    async throws(ProposalError) -> T

/// Raised inside single-range dispatch when the range's bounds changed under the request;
/// `outcomeUnknown` when an earlier attempt timed out (the write may have applied).
struct ReplanNeeded: Error {
    var outcomeUnknown: Bool
}

/// Routing with retries: plan the ranges of a key span from the cache, run a range
/// operation on each (in parallel), and recover from the node's answers — `notLeader(hint)`
/// retries on the hinted node, `epochMismatch` / `rangeNotFound` refresh the cache and
/// re-split the part, `timeout` / `proposalDropped` back off and retry with the SAME
/// request ID. The range de-duplicates it (docs/node-runtime.md, "Request de-duplication"):
/// a second log entry with an ID applied within the last `dedupWindowEntries` entries is
/// skipped at apply time on every replica, and a retry whose ID left that window is refused
/// with `proposalDropped` — so a write is never applied twice, and a retry the range can no
/// longer vouch for ends, after `Config.maxAttempts`, as etcd's "request timed out" (outcome
/// unknown).
extension Router {
    /// When the client operation being routed began (set by the outermost `fanOut` /
    /// `onOneRange`; re-plans and parallel parts inherit it), for `Config.retryWindow`.
    @TaskLocal static var operationStart: ContinuousClock.Instant?

    /// Whether an operation that has used up its attempt budget must give up: only once it
    /// has also been retrying for `Config.retryWindow` (bounded: attempts past the budget
    /// stop at the window, whatever they answer).
    func outOfRetries() -> Bool {
        guard let start = Self.operationStart else { return true }
        return ContinuousClock.now - start >= config.retryWindow
    }

    /// Runs `body` with `operationStart` set, unless an outer operation already set it.
    func timingOperation<R>(_ body: () async throws -> R) async throws -> R {
        if Self.operationStart != nil { return try await body() }
        return try await Self.$operationStart.withValue(ContinuousClock.now) { try await body() }
    }

    /// Fetches the routing table into the cache.
    func refreshRoutes() async {
        guard let routes = try? await access.routes() else { return }
        state.withLock { $0.cache.replaceAll(routes) }
    }

    /// The ranges holding `span`, refreshing the cache while it does not cover the span.
    func plan(_ span: KeySpan, budget: inout Int) async throws -> [(route: RangeRoute, span: KeySpan)] {
        var backoff = config.initialBackoff
        while true {
            if let p = state.withLock({ $0.cache.plan(span) }) { return p }
            budget -= 1
            if budget < 0 && outOfRetries() {
                stallLog.warn("routes", "request timed out: no route covers keys \(span) after \(config.maxAttempts) or more routing table refreshes over at least \(config.retryWindow)")
                throw EtcdError.timeout
            }
            await refreshRoutes()
            if let p = state.withLock({ $0.cache.plan(span) }) { return p }
            try await Task.sleep(for: backoff)
            backoff = min(backoff * 2, config.maxBackoff)
        }
    }

    /// Runs `op` on every range overlapping `span` (in parallel) and returns the pieces in
    /// key order. Each part gets its own request ID; a part re-split after a split keeps it.
    func fanOut<T: Sendable>(_ span: KeySpan, _ op: @escaping RangeOp<T>) async throws -> [Piece<T>] {
        try await timingOperation { try await fanOut(span, budget: config.maxAttempts, requestID: nil, op) }
    }

    private func fanOut<T: Sendable>(
        _ span: KeySpan, budget: Int, requestID: UInt64?, _ op: @escaping RangeOp<T>
    ) async throws -> [Piece<T>] {
        var budget = budget
        let parts = try await plan(span, budget: &budget)
        if parts.count == 1 {
            return try await runPart(parts[0], budget: budget, requestID: requestID ?? newRequestID(), resplit: true, op)
        }
        let remaining = budget
        return try await withThrowingTaskGroup(of: [Piece<T>].self) { group in
            for part in parts {
                let id = requestID ?? newRequestID()
                group.addTask { try await self.runPart(part, budget: remaining, requestID: id, resplit: true, op) }
            }
            var all: [Piece<T>] = []
            for try await pieces in group { all += pieces }
            return all.sorted { $0.span.start.lexicographicallyPrecedes($1.span.start) }
        }
    }

    /// Runs `op` on the one range holding every span of `spans`; more than one range
    /// throws `EtcdError.txnSpansRanges`. The request ID stays the same across retries and
    /// re-plans.
    func onOneRange<T: Sendable>(_ spans: [KeySpan], _ op: @escaping RangeOp<T>) async throws -> Piece<T> {
        try await timingOperation { try await onOneRangeTimed(spans, op) }
    }

    private func onOneRangeTimed<T: Sendable>(_ spans: [KeySpan], _ op: @escaping RangeOp<T>) async throws -> Piece<T> {
        let id = newRequestID()
        var budget = config.maxAttempts
        var outcomeUnknown = false
        while true {
            var chosen: (route: RangeRoute, span: KeySpan)?
            var ids = Set<RangeID>()
            for span in spans {
                for part in try await plan(span, budget: &budget) {
                    ids.insert(part.route.descriptor.rangeID)
                    if chosen == nil { chosen = part }
                }
            }
            if ids.count > 1 {
                // After a timed-out attempt the write may have applied: not a clean refusal.
                if outcomeUnknown { throw EtcdError.timeout }
                throw EtcdError.txnSpansRanges(ids.sorted().map(\.rawValue))
            }
            guard let part = chosen else { throw EtcdError.timeout }
            do {
                return try await runPart(part, budget: budget, requestID: id, resplit: false, op)[0]
            } catch let replan as ReplanNeeded {
                outcomeUnknown = outcomeUnknown || replan.outcomeUnknown
                budget -= 1
                if budget < 0 && outOfRetries() { throw EtcdError.timeout }
            }
        }
    }

    /// Runs `op` for one part on its range with retries.
    private func runPart<T: Sendable>(
        _ part: (route: RangeRoute, span: KeySpan), budget: Int, requestID: UInt64, resplit: Bool,
        _ op: @escaping RangeOp<T>
    ) async throws -> [Piece<T>] {
        var route = part.route
        let rangeID = route.descriptor.rangeID
        var attempts = 0
        var outcomeUnknown = false
        var lastError: (ProposalError, NodeID)?
        var backoff = config.initialBackoff
        func pause() async throws {
            try await Task.sleep(for: backoff)
            backoff = min(backoff * 2, config.maxBackoff)
        }
        while true {
            attempts += 1
            if attempts > budget && outOfRetries() {
                stallLog.warn("range \(rangeID.rawValue)", Self.gaveUp(rangeID, attempts: attempts - 1, last: lastError))
                throw EtcdError.timeout
            }
            let node = target(route)
            let answer: Result<T, ProposalError>
            // Only a call to another node races the deadline: this node's own host cannot be
            // paused while its router runs, and the race's two task hops per attempt are CPU
            // on the hot local path (main had no bound there either).
            if let limit = config.attemptTimeout, node != access.localNode {
                let attemptRoute = route, span = part.span, access = self.access
                // Ended early once this node's failure detector marks `node` down.
                let abandon: @Sendable () -> Bool = { access.leaderInstead(of: node, range: rangeID) != nil }
                let outcome = await AttemptDeadline.run(limit, abandon: abandon) { () async throws(ProposalError) -> T in
                    try await op(attemptRoute, span, node, requestID)
                }
                guard case .answered(let a) = outcome else {
                    // No answer within a few election timeouts, or the node was marked down
                    // meanwhile: it may be paused or cut off while the others elected a new
                    // leader. Its answer (if any) is
                    // dropped; the retry keeps the request ID, so the range de-duplicates it
                    // (reads are simply repeated).
                    if Task.isCancelled { throw CancellationError() }
                    lastError = (.timeout, node)
                    outcomeUnknown = true
                    route.leaderHint = await reresolveLeader(of: route, notAnswering: node)
                    let leader = route.leaderHint
                    state.withLock { $0.cache.setLeader(leader, of: rangeID) }
                    continue
                }
                answer = a
            } else {
                do throws(ProposalError) {
                    answer = .success(try await op(route, part.span, node, requestID))
                } catch {
                    answer = .failure(error)
                }
            }
            switch answer {
            case .success(let value):
                return [Piece(span: part.span, range: rangeID, value: value)]
            case .failure(let error):
                lastError = (error, node)
                switch error {
                case .rejected(let e):
                    throw e
                case .notLeader(let hint):
                    if hint != .none && hint != node {
                        route.leaderHint = hint
                        // Hints that keep moving (an election in progress): slow down.
                        if attempts > 2 { try await pause() }
                    } else {
                        route.leaderHint = nextReplica(after: node, in: route.descriptor)
                        try await pause()
                    }
                    let leader = route.leaderHint
                    state.withLock { $0.cache.setLeader(leader, of: rangeID) }
                case .epochMismatch(let current):
                    await refreshRoutes()
                    state.withLock { $0.cache.install(RangeRoute(descriptor: current, leaderHint: .none)) }
                    guard resplit else { throw ReplanNeeded(outcomeUnknown: outcomeUnknown) }
                    return try await fanOut(part.span, budget: budget - attempts, requestID: requestID, op)
                case .rangeNotFound:
                    try await pause()
                    await refreshRoutes()
                    guard resplit else { throw ReplanNeeded(outcomeUnknown: outcomeUnknown) }
                    return try await fanOut(part.span, budget: budget - attempts, requestID: requestID, op)
                case .timeout, .proposalDropped:
                    outcomeUnknown = true
                    try await pause()
                }
            }
        }
    }

    /// The node to try after `silent` did not answer an attempt in time: the cached leader
    /// hint when something (another request's answer) moved it off `silent`, else the next
    /// replica, which answers from its own belief (`notLeader(hint)`, followed as usual).
    /// No routing-table refresh: it may ask the silent node and wait for its call timeout.
    func reresolveLeader(of route: RangeRoute, notAnswering silent: NodeID) async -> NodeID {
        let rangeID = route.descriptor.rangeID
        let hint = state.withLock { $0.cache.route(of: rangeID)?.leaderHint } ?? .none
        if hint != .none && hint != silent { return hint }
        return nextReplica(after: silent, in: route.descriptor)
    }

    /// The warning for a part given up after `attempts` tries: the range and its last answer.
    static func gaveUp(_ range: RangeID, attempts: Int, last: (ProposalError, NodeID)?) -> String {
        let why = last.map { "last answer from node \($0.1.rawValue): \($0.0)" } ?? "no attempt was made"
        return "request timed out: range \(range.rawValue) gave no answer in \(attempts) attempts; \(why)"
    }

    /// The node to send a range operation to: the leader hint, else the local replica,
    /// else the first replica.
    /// The node to send an attempt for `route` to: its cached leader hint — unless this
    /// node's failure detector marked that node down (a leader stopped or cut off with its
    /// connections open would hold every attempt for the whole attempt timeout), then the
    /// leader this node's replica now follows, or the next replica to probe.
    func target(_ route: RangeRoute) -> NodeID {
        let hint = route.leaderHint
        if hint != .none {
            guard let instead = access.leaderInstead(of: hint, range: route.descriptor.rangeID) else { return hint }
            return instead != .none ? instead : nextReplica(after: hint, in: route.descriptor)
        }
        if route.descriptor.replica(on: access.localNode) != nil { return access.localNode }
        return route.descriptor.replicas.first?.nodeID ?? access.localNode
    }

    /// The replica after `node` in the descriptor (round robin), to probe when no leader
    /// is known.
    func nextReplica(after node: NodeID, in d: RangeDescriptor) -> NodeID {
        guard !d.replicas.isEmpty else { return .none }
        let i = d.replicas.firstIndex { $0.nodeID == node } ?? -1
        return d.replicas[(i + 1) % d.replicas.count].nodeID
    }

    /// The error a client sees for a failure outside the retry loop.
    static func mapFinal(_ error: any Error) -> any Error {
        guard let p = error as? ProposalError else { return error }
        switch p {
        case .rejected(let e): return e
        default: return EtcdError.timeout
        }
    }
}
