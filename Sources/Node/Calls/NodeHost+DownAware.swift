public import Base

/// Waiting on another node only while it is believed up: a node call to a process that is
/// stopped (SIGSTOP, a stall) or cut off with its connections open gets no answer until the
/// call's own timeout, and everything queued behind it (the node's one oracle batch in
/// flight, a lease call) waits too. The failure detector (`checkLiveness`: no message from
/// the node for an election timeout) ends that wait early.
extension NodeHost {
    /// Runs `call`, a node call to `node` bounded by its own `timeoutMs`, and returns its
    /// answer, or nil as soon as this node's failure detector has marked `node` down (at
    /// once when it already is; else checked at least every 200 ms). After nil the call may
    /// still take effect on `node`: the caller treats it as an outcome it does not know.
    public func unlessMarkedDown<T: Sendable>(
        _ node: NodeID, timeoutMs: Int, _ call: @escaping @Sendable () async throws(ProposalError) -> T
    ) async throws(ProposalError) -> T? {
        if peerIsDown(node) { return nil }
        // The call's own timeout answers first; the deadline here is only a backstop.
        let outcome = await AttemptDeadline.run(.milliseconds(timeoutMs + 1_000),
                                                abandon: { [weak self] in self?.peerIsDown(node) ?? true }, call)
        switch outcome {
        case .answered(let result): return try result.get()
        case .expired: return nil
        }
    }
}
