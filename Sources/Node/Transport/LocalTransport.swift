public import Base
import Synchronization

/// An in-process network of nodes for tests: routes batches synchronously into the target
/// node's mailbox. Owns the registry of handlers and the fault settings: nodes marked down
/// (nothing reaches them and they reach nobody; senders hear `peerUnreachable`), cut links
/// (partitions, one direction each) and a seeded random drop rate.
public final class LocalNetwork: Sendable {
    struct State {
        var handlers: [NodeID: any RaftTransportHandler] = [:]
        var down: Set<NodeID> = []
        var cut: Set<Link> = []
        var dropRate: Double = 0
        var rng: UInt64 = 0x2545_F491_4F6C_DD1D
        var delivered: UInt64 = 0
        var dropped: UInt64 = 0
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

/// Why `LocalTransport.sendSnapshot` could not deliver.
public enum LocalTransportError: Error, Sendable, Equatable {
    case unreachable(NodeID)
}
