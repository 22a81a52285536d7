public import MVCC

extension RangeRequest {
    /// This request with its read point set to a fresh revision from `fetch` (the oracle),
    /// for a linearizable read that takes its read point after it began. An oracle failure
    /// reads as `proposalDropped`: it says nothing about the leader of the range being read.
    /// Shared by the leader-side `NodeHost.readFresh` and the router's own read point.
    public func atFreshRevision(
        _ fetch: () async throws(ProposalError) -> Int64
    ) async throws(ProposalError) -> RangeRequest {
        var atRevision = self
        do throws(ProposalError) {
            atRevision.revision = try await fetch()
        } catch {
            throw .proposalDropped("no fresh revision: \(error)")
        }
        return atRevision
    }
}
