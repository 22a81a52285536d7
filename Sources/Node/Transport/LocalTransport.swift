public import Base
import Synchronization

/// An in-process network of nodes for tests: routes batches synchronously into the target
/// node's mailbox, and node calls (`NodeCallTransport`) into the target's `NodeCallHandler`
/// (registered handlers that are one; `NodeHost` is). Owns the registry of handlers and the fault settings: nodes marked down
/// (nothing reaches them and they reach nobody; senders hear `peerUnreachable`), paused nodes
/// (a SIGSTOPped process: messages to and from it vanish silently, node calls to it get no
/// answer until their timeout), cut links (partitions, one direction each) and a seeded
/// random drop rate.
public final class LocalNetwork: Sendable {
    struct State {
        var handlers: [NodeID: any RaftTransportHandler] = [:]
        var down: Set<NodeID> = []
        var paused: Set<NodeID> = []
        var cut: Set<Link> = []
        var dropRate: Double = 0
        var rng: UInt64 = 0x2545_F491_4F6C_DD1D
        var delivered: UInt64 = 0
        var dropped: UInt64 = 0
        var calls: UInt64 = 0
    }

    struct Link: Hashable {
        var from: NodeID
        var to: NodeID
    }

    let state = Mutex(State())

    public init(seed: UInt64 = 1) {
        state.withLock { $0.rng = seed | 1 }
    }

    /// The transport a node uses to send into this network.
    public func transport(for node: NodeID) -> LocalTransport { LocalTransport(network: self, node: node) }

    public func register(_ node: NodeID, _ handler: any RaftTransportHandler) {
        state.withLock {
            $0.handlers[node] = handler
            $0.down.remove(node)
        }
    }

    /// Removes a node (stopped): messages to it are lost and reported unreachable.
    public func unregister(_ node: NodeID) { _ = state.withLock { $0.handlers.removeValue(forKey: node) } }

    public func setDown(_ node: NodeID, _ down: Bool) {
        state.withLock { if down { $0.down.insert(node) } else { $0.down.remove(node) } }
    }

    /// Pauses (or resumes) `node` as SIGSTOP / SIGCONT would: its messages vanish, calls to
    /// it hang until their timeout.
    public func setPaused(_ node: NodeID, _ paused: Bool) {
        state.withLock { if paused { $0.paused.insert(node) } else { $0.paused.remove(node) } }
    }

    func isPaused(_ node: NodeID) -> Bool { state.withLock { $0.paused.contains(node) } }

    /// Cuts (or heals) both directions between `a` and `b`.
    public func partition(_ a: NodeID, _ b: NodeID, cut: Bool = true) {
        state.withLock { s in
            for link in [Link(from: a, to: b), Link(from: b, to: a)] {
                if cut { s.cut.insert(link) } else { s.cut.remove(link) }
            }
        }
    }

    /// Drops each message batch with this probability (seeded, reproducible).
    public func setDropRate(_ rate: Double) { state.withLock { $0.dropRate = rate } }

    public var deliveredBatches: UInt64 { state.withLock { $0.delivered } }

    /// Node calls handed to a handler so far.
    public var deliveredCalls: UInt64 { state.withLock { $0.calls } }

    /// The call handler of `to` if a call from `from` may reach it now (counted).
    func routeCall(from: NodeID, to: NodeID) -> (any NodeCallHandler)? {
        state.withLock { s -> (any NodeCallHandler)? in
            guard let h = s.handlers[to] as? any NodeCallHandler, !s.down.contains(to), !s.down.contains(from),
                  !s.cut.contains(Link(from: from, to: to))
            else { return nil }
            s.calls += 1
            return h
        }
    }

    /// Whether an answer from `from` can reach `to` now.
    func canAnswer(from: NodeID, to: NodeID) -> Bool {
        state.withLock { s in
            !s.down.contains(to) && !s.down.contains(from)
                && !s.cut.contains(Link(from: from, to: to))
        }
    }

    /// The handler of `to` if a message from `from` may reach it now.
    func route(from: NodeID, to: NodeID, isBatch: Bool) -> (any RaftTransportHandler)? {
        state.withLock { s -> (any RaftTransportHandler)? in
            guard let h = s.handlers[to], !s.down.contains(to), !s.down.contains(from),
                  !s.cut.contains(Link(from: from, to: to))
            else { return nil }
            if isBatch && s.dropRate > 0 {
                s.rng ^= s.rng << 13
                s.rng ^= s.rng >> 7
                s.rng ^= s.rng << 17
                if Double(s.rng >> 11) / Double(1 << 53) < s.dropRate {
                    s.dropped += 1
                    return nil
                }
            }
            s.delivered += 1
            return h
        }
    }

    func handler(of node: NodeID) -> (any RaftTransportHandler)? { state.withLock { $0.handlers[node] } }
}

/// One node's view of a `LocalNetwork` (the `RaftTransport` it sends with).
public struct LocalTransport: RaftTransport {
    let network: LocalNetwork
    public let node: NodeID

    public func send(_ batches: [NodeID: [RangeMessage]]) {
        for (to, batch) in batches {
            if network.isPaused(node) || network.isPaused(to) { continue }
            if let h = network.route(from: node, to: to, isBatch: true) {
                h.deliver(from: node, messages: batch)
            } else if !batch.isEmpty, let me = network.handler(of: node) {
                me.peerUnreachable(to)
            }
        }
    }

    public func sendSnapshot(to target: NodeID, header: SnapshotHeader,
                             chunks: AsyncThrowingStream<[UInt8], any Error>) async throws {
        guard let h = network.route(from: node, to: target, isBatch: false) else {
            throw LocalTransportError.unreachable(target)
        }
        try await h.receiveSnapshot(from: node, header: header, chunks: chunks)
    }
}

/// Node calls in-process: a call to a node that is down, unregistered or behind a cut link
/// fails at once with `.unreachable` (never delivered); a call whose answer cannot travel
/// back (the link was cut or a node went down meanwhile) or that takes longer than
/// `timeoutMs` fails with `.timeout` (delivered, outcome unknown) — as over gRPC.
extension LocalTransport: NodeCallTransport {
    public func call(_ target: NodeID, _ request: [UInt8], timeoutMs: Int) async throws(NodeCallError) -> [UInt8] {
        guard let handler = network.routeCall(from: node, to: target) else { throw .unreachable(target) }
        if network.isPaused(target) {
            try? await Task.sleep(for: .milliseconds(timeoutMs))  // no answer from a stopped process
            throw .timeout(target)
        }
        let from = node
        let answer = await CallDeadline.run(timeoutMs: timeoutMs) { await handler.handleCall(from: from, request) }
        guard let answer, network.canAnswer(from: target, to: node) else { throw .timeout(target) }
        return answer
    }
}

/// Races an async body against a deadline without waiting for a body that ignores
/// cancellation (a task group would): the first of the body's answer, the deadline or
/// the caller's cancellation wins; the body is then cancelled. Owns the one continuation.
enum CallDeadline {
    final class Race: Sendable {
        struct State {
            var continuation: CheckedContinuation<[UInt8]?, Never>?
            var done = false
            var work: Task<Void, Never>?
            var timer: Task<Void, Never>?
        }
        let state = Mutex(State())

        /// Resumes the waiter once; returns the tasks to cancel when this call won.
        func finish(_ value: [UInt8]?) {
            let (c, tasks) = state.withLock { s -> (CheckedContinuation<[UInt8]?, Never>?, [Task<Void, Never>]) in
                guard !s.done else { return (nil, []) }
                s.done = true
                defer { s.continuation = nil }
                return (s.continuation, [s.work, s.timer].compactMap { $0 })
            }
            for t in tasks { t.cancel() }
            c?.resume(returning: value)
        }
    }

    /// The body's answer, or nil on timeout or cancellation.
    static func run(timeoutMs: Int, _ body: @escaping @Sendable () async -> [UInt8]) async -> [UInt8]? {
        let race = Race()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<[UInt8]?, Never>) in
                let cancelledEarly = race.state.withLock { s -> Bool in
                    if s.done { return true }
                    s.continuation = c
                    return false
                }
                if cancelledEarly {
                    c.resume(returning: nil)
                    return
                }
                let work = Task { race.finish(await body()) }
                let timer = Task {
                    try? await Task.sleep(for: .milliseconds(max(0, timeoutMs)))
                    if !Task.isCancelled { race.finish(nil) }
                }
                let already = race.state.withLock { s -> Bool in
                    s.work = work
                    s.timer = timer
                    return s.done
                }
                if already {
                    work.cancel()
                    timer.cancel()
                }
            }
        } onCancel: {
            race.finish(nil)
        }
    }
}

/// Why `LocalTransport.sendSnapshot` could not deliver.
public enum LocalTransportError: Error, Sendable, Equatable {
    case unreachable(NodeID)
}
