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
    public init() {}
}

import Synchronization

/// The shared, lock-protected `PeerTransportStats` of one transport (a class because
/// `Mutex` cannot be copied into the links that update it).
final class StatsBox: Sendable {
    let state = Mutex(PeerTransportStats())
    func withLock<R: Sendable>(_ body: (inout PeerTransportStats) -> R) -> R { state.withLock { body(&$0) } }
}
