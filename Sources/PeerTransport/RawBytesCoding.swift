public import GRPCCore

/// Passes gRPC message bytes through unchanged as `[UInt8]`. The peer protocol frames its
/// payloads itself (`PeerFrame`, Node's `MessageCodec`), so no protobuf runs per message.
public struct RawBytesSerializer: MessageSerializer {
    public init() {}
    public func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
}

/// The inverse of `RawBytesSerializer`: copies the received bytes into a `[UInt8]`.
public struct RawBytesDeserializer: MessageDeserializer {
    public init() {}
    public func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
        serializedMessageBytes.withUnsafeBytes { Array($0) }
    }
}

/// The methods of the peer port. The service name is distinct from the protobuf
/// `flotilla.peer.Peer` (Proto module) because these carry opaque frames, not protobuf
/// messages: see `PeerFrame`.
public enum PeerMethods {
    public static let service = "flotilla.peer.RawPeer"
    /// Bidirectional; client → server: one `PeerFrame.raftBatch` per poll-round batch;
    /// server → client: nothing (the stream ends when either side goes away).
    public static let raft = MethodDescriptor(fullyQualifiedService: service, method: "Raft")
    /// Client streaming; request metadata carries the sender and the snapshot header;
    /// messages are the LZ4 chunks; the single response is empty on success.
    public static let snapshot = MethodDescriptor(fullyQualifiedService: service, method: "Snapshot")
    /// Bidirectional; the node call channel (`CallFrame`): client → server batches of calls,
    /// server → client batches of answers, matched by call ID. One stream per node pair.
    public static let call = MethodDescriptor(fullyQualifiedService: service, method: "Call")

    static let fromNodeKey = "flotilla-from-node"
    static let snapshotHeaderKey = "flotilla-snapshot-header-bin"
}
