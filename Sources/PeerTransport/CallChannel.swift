import Base
import Dispatch
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import Node
import Synchronization

/// The client side of the node call stream to ONE peer: owns the calls in flight (by call
/// ID, with their deadlines and waiting callers), the queue of calls not yet written, and
/// the loop keeping one bidirectional `RawPeer/Call` stream open on the peer's shared
/// `GRPCClient`. Every write takes all queued calls at once (coalesced into as few
/// messages as possible); answers are matched back by call ID.
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
    let client: GRPCClient<HTTP2ClientTransport.Posix>
    let stats: StatsBox
    let logger: Logger
    let state = Mutex(State())
    /// Calls to write; never drops (the in-flight bound is checked on admission).
    let outbound = SendQueue<CallFrame.Item>(capacity: Int.max / 2)
    let everConnected = Atomic<Bool>(false)

    init(peer: NodeID, config: PeerTransportConfig, client: GRPCClient<HTTP2ClientTransport.Posix>,
         stats: StatsBox, logger: Logger) {
        self.peer = peer
        self.config = config
        self.client = client
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
        p.waiter.resume(returning: result ?? .failure(p.written ? .timeout(peer) : .unreachable(peer)))
        if case .success = result {} else { stats.withLock { $0.callsFailed += 1 } }
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
        for p in failed {
            p.waiter.resume(returning: .failure(stopping ? .closed : p.written ? .timeout(peer) : .unreachable(peer)))
        }
        if !failed.isEmpty { stats.withLock { $0.callsFailed += UInt64(failed.count) } }
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

    func expireLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(config.callSweepIntervalMs))
            let now = Self.nowNs()
            let overdue = state.withLock { s in s.pending.filter { $0.value.deadlineNs <= now }.map(\.key) }
            for id in overdue { complete(id, with: nil) }
        }
    }

    func streamLoop() async {
        var delayMs = Double(config.reconnectInitialMs)
        while !Task.isCancelled {
            let opened = ContinuousClock.now
            do {
                try await runStream()
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

    /// One call stream: writes queued calls in batches and matches answers until it fails.
    func runStream() async throws {
        let me = config.nodeID
        let request = StreamingClientRequest<[UInt8]> { writer in
            try await writer.write(CallFrame.encodeCalls(from: me, [CallFrame.Item]()))
            while let queued = await self.outbound.next() {
                // Calls that expired or were cancelled while queued are skipped.
                let live = self.state.withLock { s in
                    queued.filter { item in
                        guard s.pending[item.callID] != nil else { return false }
                        s.pending[item.callID]!.written = true
                        return true
                    }
                }
                guard !live.isEmpty else { continue }
                let messages = CallFrame.chunks(live)
                for chunk in messages { try await writer.write(CallFrame.encodeCalls(from: me, chunk)) }
                self.stats.withLock {
                    $0.callsSent += UInt64(live.count)
                    $0.callMessagesSent += UInt64(messages.count)
                }
            }
            throw CancellationError()
        }
        try await client.bidirectionalStreaming(
            request: request, descriptor: PeerMethods.call,
            serializer: RawBytesSerializer(), deserializer: RawBytesDeserializer(),
            options: PeerLink.callOptions
        ) { response in
            // Up once the peer has accepted the stream (its response headers arrived), not
            // when our first write was buffered: a stream that a refused or backing-off
            // connection is about to fail must not take calls it then reports as timeouts.
            if case .success = response.accepted { self.markConnected() }
            for try await message in response.messages {
                for answer in try CallFrame.decodeAnswers(message) {
                    self.complete(answer.callID, with: .success(answer.bytes))
                }
            }
        }
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
