public import Base

/// Request/response calls between nodes (forwarded proposals and reads, oracle requests,
/// lease operations, feed polls). Implemented by `PeerTransport` over one long-lived
/// bidirectional gRPC stream per node pair, calls multiplexed by ID and batched per
/// write (never one unary RPC per request), and by `LocalNetwork` in-process for tests.
///
/// The bytes are opaque to the transport. Their first byte is the call's tag; tags
/// 0x01-0x0F belong to the node core (oracle, closed revisions; `NodeHost.handleCoreCall`),
/// 0x10-0x3F to the cluster call codec (`NodeCall`).
public protocol NodeCallTransport: Sendable {
    /// Sends `request` to `node`'s `NodeCallHandler` and returns its answer. Throws
    /// `NodeCallError` when the node cannot be reached or does not answer within
    /// `timeoutMs` (the outcome of a forwarded write is then unknown).
    func call(_ node: NodeID, _ request: [UInt8], timeoutMs: Int) async throws(NodeCallError) -> [UInt8]
}

/// The receiving side of node calls, implemented by `NodeHost`.
public protocol NodeCallHandler: Sendable {
    /// Answers one call from `node`. Never throws: errors travel encoded in the answer.
    func handleCall(from node: NodeID, _ request: [UInt8]) async -> [UInt8]
    /// Answers one call through `answer` (called once, on any thread), for a transport that
    /// receives calls on an event loop: a handler may answer its hot calls without a task
    /// (`NodeHost`: proposals and fresh reads are answered from the poll loop). The default
    /// runs `handleCall` in a task.
    func handleCall(from node: NodeID, _ request: [UInt8], answer: @escaping @Sendable ([UInt8]) -> Void)
}

extension NodeCallHandler {
    public func handleCall(from node: NodeID, _ request: [UInt8], answer: @escaping @Sendable ([UInt8]) -> Void) {
        Task { answer(await handleCall(from: node, request)) }
    }
}

/// Why a node call produced no answer.
public enum NodeCallError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No connection to the node (down, partitioned, not yet dialed).
    case unreachable(NodeID)
    /// No answer in time; for a forwarded write the outcome is unknown.
    case timeout(NodeID)
    /// The transport is shut down.
    case closed

    public var description: String {
        switch self {
        case .unreachable(let n): "node \(n) unreachable"
        case .timeout(let n): "node \(n) did not answer in time"
        case .closed: "node call transport closed"
        }
    }
}
