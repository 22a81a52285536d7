public import Base
public import Logging
public import Node

/// What the server needs of a peer transport, whichever wire it uses: Node's
/// `RaftTransport` (Raft batches, snapshots) and `NodeCallTransport` (the node call
/// channel), plus lifecycle and observation. Implemented by `GRPCPeerTransport`
/// (grpc-swift-2, HTTP/2) and `LeanPeerTransport` (swift-nio, own framing); all nodes of a
/// cluster must use the same one.
public protocol NodePeerTransport: RaftTransport, NodeCallTransport {
    var config: PeerTransportConfig { get }
    /// Starts listening and dialing; inbound Raft traffic goes to `handler`, inbound node
    /// calls to `callHandler` (by default `handler`, when it is one). Returns the bound port.
    @discardableResult
    func start(handler: any RaftTransportHandler, callHandler: (any NodeCallHandler)?) async throws -> Int
    /// Stops the outgoing side first, then the listener; in-flight handlers end.
    func stop() async
    var stats: PeerTransportStats { get }
    /// Whether the Raft stream / connection to `node` is up.
    func isConnected(to node: NodeID) -> Bool
    /// Whether the node call stream / connection to `node` is up.
    func isCallStreamConnected(to node: NodeID) -> Bool
}

extension NodePeerTransport {
    @discardableResult
    public func start(handler: any RaftTransportHandler) async throws -> Int {
        try await start(handler: handler, callHandler: nil)
    }
}

/// The peer transports a node can run (`[peer] transport`).
public enum PeerTransportKind: String, Sendable, CaseIterable, CustomStringConvertible {
    case grpc
    case lean

    public var description: String { rawValue }

    /// The environment variable that overrides `[peer] transport` (tests, benches).
    public static let environmentKey = "FLOTILLA_PEER_TRANSPORT"

    public func make(config: PeerTransportConfig, logger: Logger = Logger(label: "flotilla.peer")) throws
        -> any NodePeerTransport {
        switch self {
        case .grpc: try GRPCPeerTransport(config: config, logger: logger)
        case .lean: LeanPeerTransport(config: config, logger: logger)
        }
    }
}
