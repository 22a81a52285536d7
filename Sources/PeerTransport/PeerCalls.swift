import Base
import Node
import Synchronization

/// The node call side shared by both peer transports: one `CallChannel` per peer, the
/// local call handler (a call to this node itself runs it directly) and the stopped flag
/// (calls after `stop` end `.closed`). Owns the channels; the transport owns their tasks.
final class PeerCalls: Sendable {
    let nodeID: NodeID
    let channels: [NodeID: CallChannel]
    let handlerRef = CallHandlerRef()
    let stopped = Atomic<Bool>(false)

    init(nodeID: NodeID, channels: [NodeID: CallChannel]) {
        self.nodeID = nodeID
        self.channels = channels
    }

    func call(_ node: NodeID, _ request: [UInt8], timeoutMs: Int) async throws(NodeCallError) -> [UInt8] {
        guard !stopped.load(ordering: .acquiring) else { throw .closed }
        if node == nodeID {
            guard let local = handlerRef.get() else { throw .unreachable(node) }
            return await local.handleCall(from: node, request)
        }
        guard let channel = channels[node] else { throw .unreachable(node) }
        return try await channel.call(request, timeoutMs: timeoutMs)
    }

    /// Starts every channel's stream loop.
    func start() -> [Task<Void, Never>] { channels.values.map { channel in Task { await channel.run() } } }

    func isConnected(to node: NodeID) -> Bool { channels[node]?.isConnected ?? false }
}
