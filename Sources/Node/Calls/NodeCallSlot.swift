public import Base
import Synchronization

/// Holds the `NodeCallTransport` a `NodeHost` uses to call other nodes. Set once the
/// transport exists (the server creates the peer transport, the node, then connects them);
/// nil until then, in which case remote calls fail as unreachable. Owns only the reference.
public final class NodeCallSlot: Sendable {
    let state = Mutex<(any NodeCallTransport)?>(nil)

    public init() {}

    public var transport: (any NodeCallTransport)? {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }
}

extension NodeHost {
    /// The transport this node calls other nodes with (oracle requests, forwarded feed
    /// closes, ...). Set by the server after the peer transport is created.
    public var callTransport: (any NodeCallTransport)? {
        get { callSlot.transport }
        set { callSlot.transport = newValue }
    }

    /// A typed client over `callTransport` (unreachable for every node while it is unset).
    public func callClient(timeoutMs: Int) -> NodeCallClient {
        NodeCallClient(transport: callTransport ?? UnsetNodeCallTransport(), timeoutMs: timeoutMs)
    }
}

/// What `NodeHost.callClient` uses before a transport is set: every node is unreachable.
struct UnsetNodeCallTransport: NodeCallTransport {
    func call(_ node: NodeID, _ request: [UInt8], timeoutMs: Int) async throws(NodeCallError) -> [UInt8] {
        throw .unreachable(node)
    }
}
