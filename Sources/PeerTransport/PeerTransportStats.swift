/// Counters of a `GRPCPeerTransport`, for `/metrics`. Plain value (a snapshot).
public struct PeerTransportStats: Sendable, Equatable {
    /// Raft streams established after the first one to the same peer.
    public var streamReconnects: UInt64 = 0
    /// Failed connection attempts or broken streams.
    public var streamFailures: UInt64 = 0
    public var batchesSent: UInt64 = 0
    public var batchesReceived: UInt64 = 0
    /// Frames dropped from full send queues (slow or unreachable peers).
    public var batchesDropped: UInt64 = 0
    public var bytesSent: UInt64 = 0
    public var bytesReceived: UInt64 = 0
    /// Compressed snapshot chunk bytes put on / taken off the wire.
    public var snapshotBytesSent: UInt64 = 0
    public var snapshotBytesReceived: UInt64 = 0
    public var snapshotsSent: UInt64 = 0
    public var snapshotsReceived: UInt64 = 0
    public var snapshotsFailed: UInt64 = 0
    /// Peers whose Raft stream is currently up.
    public var connectedPeers: Int = 0
    /// Node calls written to peers, and the gRPC messages that carried them (coalescing:
    /// calls per message = callsSent / callMessagesSent).
    public var callsSent: UInt64 = 0
    public var callMessagesSent: UInt64 = 0
    /// Outbound calls that ended without an answer (unreachable, timeout, closed).
    public var callsFailed: UInt64 = 0
    /// Node calls answered for peers, and the messages that carried the answers.
    public var callsAnswered: UInt64 = 0
    public var callAnswerMessagesSent: UInt64 = 0
    /// Call streams that broke after being up, and re-opened after the first one.
    public var callStreamFailures: UInt64 = 0
    public var callStreamReconnects: UInt64 = 0
    public init() {}
}

import Synchronization

/// The shared, lock-protected `PeerTransportStats` of one transport (a class because
/// `Mutex` cannot be copied into the links that update it).
final class StatsBox: Sendable {
    let state = Mutex(PeerTransportStats())
    func withLock<R: Sendable>(_ body: (inout PeerTransportStats) -> R) -> R { state.withLock { body(&$0) } }
}
