import Base
import Foundation
import Node
import PeerTransport
import RaftCore
import Synchronization
@_exported import TestSupport

/// A `RaftTransportHandler` that records what reaches it (tests only).
final class RecordingHandler: RaftTransportHandler, Sendable {
    struct State {
        var batches: [(NodeID, [RangeMessage])] = []
        var unreachable: [NodeID] = []
        var snapshots: [(NodeID, SnapshotHeader, [UInt8])] = []
    }
    let state = Mutex(State())
    let rejectSnapshots: Bool

    init(rejectSnapshots: Bool = false) { self.rejectSnapshots = rejectSnapshots }

    func deliver(from node: NodeID, messages: [RangeMessage]) {
        state.withLock { $0.batches.append((node, messages)) }
    }
    func peerUnreachable(_ node: NodeID) { state.withLock { $0.unreachable.append(node) } }
    func receiveSnapshot(from node: NodeID, header: SnapshotHeader,
                         chunks: AsyncThrowingStream<[UInt8], any Error>) async throws {
        var all: [UInt8] = []
        for try await c in chunks { all += c }
        if rejectSnapshots { throw SnapshotFailure("test rejects") }
        state.withLock { $0.snapshots.append((node, header, all)) }
    }

    var batches: [(NodeID, [RangeMessage])] { state.withLock { $0.batches } }
    var unreachable: [NodeID] { state.withLock { $0.unreachable } }
    var snapshots: [(NodeID, SnapshotHeader, [UInt8])] { state.withLock { $0.snapshots } }
}

/// A `RaftTransportHandler` whose snapshot receive takes one chunk, then waits until
/// `release()` before draining the rest (tests only).
final class SlowSnapshotHandler: RaftTransportHandler, Sendable {
    let pulled = Mutex(0)
    let received = Mutex(0)
    private let released = Mutex(false)

    func release() { released.withLock { $0 = true } }
    func deliver(from node: NodeID, messages: [RangeMessage]) {}
    func peerUnreachable(_ node: NodeID) {}
    func receiveSnapshot(from node: NodeID, header: SnapshotHeader,
                         chunks: AsyncThrowingStream<[UInt8], any Error>) async throws {
        for try await c in chunks {
            received.withLock { $0 += c.count }
            if pulled.withLock({ $0 += 1; return $0 }) == 1 {
                while !released.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(20)) }
            }
        }
    }
}

/// Polls `condition` until true or `timeout`; returns the final value.
func eventually(_ timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
    let end = ContinuousClock.now + timeout
    while ContinuousClock.now < end {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

func message(_ i: UInt64) -> RangeMessage {
    RangeMessage(rangeID: RangeID(2 + i % 3),
                 message: Message(type: .append, to: 2, from: 1, term: 3, index: i,
                                  entries: [Entry(term: 3, index: i, data: Array("entry \(i)".utf8))], commit: i),
                 quiesce: i % 5 == 0)
}

/// Two transports of `kind` (nodes 1 and 2) on loopback.
func makePair(_ kind: PeerTransportKind, snapshotMBps: Double = 0, keepaliveMs: Int? = nil) throws
    -> (any NodePeerTransport, any NodePeerTransport, [NodeID: PeerTransportConfig.Address]) {
    let addrs: [NodeID: PeerTransportConfig.Address] = [
        NodeID(1): .init(host: "127.0.0.1", port: freePort()),
        NodeID(2): .init(host: "127.0.0.1", port: freePort()),
    ]
    func config(_ n: UInt64) -> PeerTransportConfig {
        var c = PeerTransportConfig(nodeID: NodeID(n), listen: addrs[NodeID(n)]!, peers: addrs)
        c.snapshotMBPerSecond = snapshotMBps
        c.reconnectInitialMs = 20
        c.reconnectMaxMs = 200
        if let keepaliveMs {
            c.keepaliveIntervalMs = keepaliveMs
            c.keepaliveTimeoutMs = keepaliveMs
        }
        return c
    }
    return (try kind.make(config: config(1)), try kind.make(config: config(2)), addrs)
}
