import Base
import Dispatch
import Logging
import Node
import Synchronization

/// The client side of the node call stream to ONE peer: owns the calls in flight (by call
/// ID, with their deadlines and waiting callers), the queue of calls not yet written, and
/// the loop keeping one call stream open through `openStream` — a bidirectional
/// `RawPeer/Call` gRPC stream on the peer's shared `GRPCClient` (`grpcStream`) or a lean
/// TCP connection (`LeanCallStream`). Every write takes all queued calls at once
/// (coalesced into as few messages as possible); answers are matched back by call ID.
///
/// Failure semantics (what `NodeCallClient` maps for the router):
/// - no stream up (never connected, reconnecting, peer down) → `.unreachable` at once;
/// - a call not yet written when the stream breaks → `.unreachable` (never sent);
/// - a written call whose stream breaks, or any call past its deadline → `.timeout`
///   (an unwritten one past its deadline → `.unreachable`);
/// - transport stopped → `.closed`.
final class CallChannel: Sendable {
    typealias Waiter = CheckedContinuation<Result<[UInt8], NodeCallError>, Never>

    struct Pending {
        var waiter: Waiter
        var deadlineNs: UInt64
        var written = false
    }

    struct State {
        var pending: [UInt64: Pending] = [:]
        var nextCallID: UInt64 = 1
        var connected = false
        var stopped = false
    }

    let peer: NodeID
    let config: PeerTransportConfig
    /// Runs ONE call stream until it fails: calls `markConnected()` once it is up, writes
    /// what `outbound` hands over (after `takeLive`), and `complete`s answers.
    let openStream: @Sendable (CallChannel) async throws -> Void
    let stats: StatsBox
    let logger: Logger
    let state = Mutex(State())
    /// Calls to write; never drops (the in-flight bound is checked on admission).
    let outbound = SendQueue<CallFrame.Item>(capacity: Int.max / 2)
    let everConnected = Atomic<Bool>(false)

    init(peer: NodeID, config: PeerTransportConfig, stats: StatsBox, logger: Logger,
         openStream: @escaping @Sendable (CallChannel) async throws -> Void) {
        self.peer = peer
        self.config = config
        self.openStream = openStream
        self.stats = stats
        self.logger = logger
    }

    static func nowNs() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    // MARK: calls

    func call(_ request: [UInt8], timeoutMs: Int) async throws(NodeCallError) -> [UInt8] {
        let deadline = Self.nowNs() + UInt64(max(0, timeoutMs)) * 1_000_000
        let id = state.withLock { s -> UInt64 in
            defer { s.nextCallID &+= 1 }
            return s.nextCallID
        }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (c: Waiter) in
                let refused = state.withLock { s -> NodeCallError? in
                    if s.stopped { return .closed }
                    guard s.connected, s.pending.count < config.maxCallsInFlight else { return .unreachable(peer) }
                    s.pending[id] = Pending(waiter: c, deadlineNs: deadline)
                    return nil
                }
                if let refused {
                    c.resume(returning: .failure(refused))
                } else {
                    outbound.push(CallFrame.Item(callID: id, bytes: request))
                }
            }
        } onCancel: {
            self.complete(id, with: nil)
        }
        return try result.get()
    }

    /// Resumes call `id` once: with `result`, or (nil) with the failure its state implies.
    func complete(_ id: UInt64, with result: Result<[UInt8], NodeCallError>?) {
        guard let p = state.withLock({ $0.pending.removeValue(forKey: id) }) else { return }
        // Counted before the caller can see its answer (it may read the stats at once).
        if case .success = result {} else { stats.withLock { $0.callsFailed += 1 } }
        p.waiter.resume(returning: result ?? .failure(p.written ? .timeout(peer) : .unreachable(peer)))
    }

    /// Fails every call in flight (the stream broke or the transport stops).
    func failAll(stopping: Bool) {
        let failed = state.withLock { s -> [Pending] in
            s.connected = false
            if stopping { s.stopped = true }
            defer { s.pending = [:] }
            return Array(s.pending.values)
        }
        outbound.clear()
        if stopping { outbound.close() }
        if !failed.isEmpty { stats.withLock { $0.callsFailed += UInt64(failed.count) } }
        for p in failed {
            p.waiter.resume(returning: .failure(stopping ? .closed : p.written ? .timeout(peer) : .unreachable(peer)))
        }
    }

    // MARK: the stream

    /// Keeps the call stream open and expires overdue calls until cancelled.
    func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.streamLoop() }
            group.addTask { await self.expireLoop() }
        }
        failAll(stopping: true)
    }

    /// Sleeps until the earliest pending deadline — at least `callSweepIntervalMs` (the
    /// timeouts' granularity), at most `callSweepIdleMs` (a call registered meanwhile with a
    /// nearer deadline is failed at most that late) — then fails the overdue calls. (Until
    /// session 11 it woke every `callSweepIntervalMs` per peer, busy or idle: ~100 timer
    /// wake-ups per second per node, each waking dispatch's timer thread and a pool thread.)
    func expireLoop() async {
        while !Task.isCancelled {
            let now = Self.nowNs()
            let earliest = state.withLock { s in s.pending.values.lazy.map(\.deadlineNs).min() }
            let floorNs = UInt64(config.callSweepIntervalMs) * 1_000_000
            let capNs = UInt64(max(config.callSweepIntervalMs, config.callSweepIdleMs)) * 1_000_000
            let waitNs = min(max(earliest.map { $0 > now ? $0 - now : 0 } ?? capNs, floorNs), capNs)
            try? await Task.sleep(for: .nanoseconds(Int64(waitNs)))
            let after = Self.nowNs()
            let overdue = state.withLock { s in s.pending.filter { $0.value.deadlineNs <= after }.map(\.key) }
            for id in overdue { complete(id, with: nil) }
        }
    }

    func streamLoop() async {
        var delayMs = Double(config.reconnectInitialMs)
        while !Task.isCancelled {
            let opened = ContinuousClock.now
            do {
                try await openStream(self)
            } catch {
                if Task.isCancelled { break }
                logger.debug("call stream to peer failed", metadata: ["peer": "\(peer)", "error": "\(error)"])
            }
            if Task.isCancelled { break }
            let wasConnected = state.withLock { $0.connected }
            failAll(stopping: false)
            if wasConnected { stats.withLock { $0.callStreamFailures += 1 } }
            if ContinuousClock.now - opened > .seconds(5) { delayMs = Double(config.reconnectInitialMs) }
            let jitter = 1 + Double.random(in: -config.reconnectJitter...config.reconnectJitter)
            try? await Task.sleep(for: .milliseconds(Int(delayMs * jitter)))
            delayMs = min(delayMs * 2, Double(config.reconnectMaxMs))
        }
    }

    /// The calls of `queued` still waiting (not expired or cancelled while queued), marked
    /// written: the stream writes exactly these.
    func takeLive(_ queued: [CallFrame.Item]) -> [CallFrame.Item] {
        state.withLock { s in
            queued.filter { item in
                guard s.pending[item.callID] != nil else { return false }
                s.pending[item.callID]!.written = true
                return true
            }
        }
    }

    /// Counts one coalesced write of `calls` calls in `messages` messages.
    func countWrite(calls: Int, messages: Int) {
        stats.withLock {
            $0.callsSent += UInt64(calls)
            $0.callMessagesSent += UInt64(messages)
        }
    }

    /// Matches the answers of one answers message to their calls.
    func receiveAnswers(_ message: [UInt8]) throws {
        for answer in try CallFrame.decodeAnswers(message) { complete(answer.callID, with: .success(answer.bytes)) }
    }

    func markConnected() {
        let first = state.withLock { s -> Bool? in
            guard !s.connected, !s.stopped else { return nil }
            s.connected = true
            return !everConnected.exchange(true, ordering: .acquiringAndReleasing)
        }
        guard let first else { return }
        if !first { stats.withLock { $0.callStreamReconnects += 1 } }
        logger.info("call stream to peer up", metadata: ["peer": "\(peer)"])
    }

    var isConnected: Bool { state.withLock { $0.connected } }
}
