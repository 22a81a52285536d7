public import Base
public import RaftCore

/// One Raft message of one range, as carried between nodes. `quiesce` marks the final
/// heartbeat a leader sends before its range goes idle: the receiver does not step it into
/// Raft, it only stops ticking the range if it agrees with the leader (same term, caught up).
public struct RangeMessage: Sendable, Hashable {
    public var rangeID: RangeID
    public var message: Message
    public var quiesce: Bool
    public init(rangeID: RangeID, message: Message, quiesce: Bool = false) {
        self.rangeID = rangeID
        self.message = message
        self.quiesce = quiesce
    }
}

/// What precedes a range snapshot's chunks: the Raft snapshot message (its metadata says
/// which index and membership the data is at) and the sizes, for throttling and metrics.
/// The chunks that follow are one LZ4 frame (content checksum on) of the MVCC segment
/// stream, which carries its own record count and checksum.
public struct SnapshotHeader: Sendable, Hashable {
    public var rangeID: RangeID
    /// The `.snapshot` message to step once the data is ingested.
    public var message: Message
    public init(rangeID: RangeID, message: Message) {
        self.rangeID = rangeID
        self.message = message
    }
}

/// The outbound side of node-to-node communication, which `NodeHost` drives. A gRPC
/// implementation (module `PeerTransport`) keeps one long-lived stream per node pair;
/// `LocalTransport` delivers in-process for tests.
///
/// Contract:
/// - `send` must not block on the network: queue and return. Each call carries, per
///   destination node, the batch of one poll round (possibly empty: an empty batch is the
///   coalesced node heartbeat, and must still be delivered as `deliver(from:messages: [])`).
///   Delivery is best effort (Raft tolerates loss, duplication and reordering across
///   batches); order inside one batch should be kept.
/// - A peer that cannot be reached is reported through `RaftTransportHandler.peerUnreachable`.
/// - `sendSnapshot` streams a snapshot on a separate channel (throttled by the
///   implementation) and returns once the receiver ingested it, or throws.
public protocol RaftTransport: Sendable {
    func send(_ batches: [NodeID: [RangeMessage]])
    func sendSnapshot(to node: NodeID, header: SnapshotHeader,
                      chunks: AsyncThrowingStream<[UInt8], any Error>) async throws
}

/// The inbound side, implemented by `NodeHost`. All methods are safe to call from any
/// thread; they enqueue into the host's mailbox and return quickly (except
/// `receiveSnapshot`, which consumes the stream and returns when the snapshot is
/// ingested or rejected).
public protocol RaftTransportHandler: Sendable {
    /// A batch of messages from `node` (empty: a node heartbeat).
    func deliver(from node: NodeID, messages: [RangeMessage])
    /// The transport could not reach `node`; its ranges' leaders should probe again.
    func peerUnreachable(_ node: NodeID)
    /// A snapshot stream from `node`. Throws if it is malformed, fails its checksum or
    /// cannot be installed; nothing of a rejected snapshot is kept.
    func receiveSnapshot(from node: NodeID, header: SnapshotHeader,
                         chunks: AsyncThrowingStream<[UInt8], any Error>) async throws
}
