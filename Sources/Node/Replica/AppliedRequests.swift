import Base

/// The request IDs a replica applied recently, with their results: the memory behind
/// request de-duplication (a retry of an applied request gets the first result instead of
/// applying twice). Bounded by count and age. Every replica records what it applies, so a
/// new leader knows its predecessor's requests. Only successful results are remembered: a
/// failed command changed nothing and may run again.
///
/// Across a restart the memory is rebuilt from the log entries still in the WAL below the
/// durable applied index (`AppliedRequests+Recovery.swift`): puts get their exact result
/// back from MVCC; writes whose result cannot be rebuilt are remembered as `lost`, and a
/// retry of one is refused with an error (outcome known applied, result unknown) instead of
/// applying it twice. Requests whose entries were already truncated from the WAL (or that a
/// snapshot brought in) are not remembered.
struct AppliedRequests {
    let maxCount: Int
    let maxAgeNs: UInt64
    private var results: [UInt64: Result<CommandResult, ProposalError>] = [:]
    /// (request ID, applied at) in apply order; `head` is the oldest live element.
    private var order: [(id: UInt64, atNs: UInt64)] = []
    private var head = 0

    init(maxCount: Int, maxAgeNs: UInt64) {
        self.maxCount = max(1, maxCount)
        self.maxAgeNs = maxAgeNs
    }

    var count: Int { results.count }

    /// The answer for a retry of `id`: its first result, or the refusal of a request applied
    /// before a restart whose result is lost; nil when `id` is not remembered.
    func result(of id: UInt64) -> Result<CommandResult, ProposalError>? { results[id] }

    mutating func record(_ id: UInt64, _ result: CommandResult, now: UInt64) {
        remember(id, .success(result), now: now)
    }

    /// Remembers that `id` applied at `revision` before a restart, its result unknown.
    mutating func recordLost(_ id: UInt64, revision: Int64, now: UInt64) {
        remember(id, .failure(Self.lostResult(id, revision: revision)), now: now)
    }

    /// The refusal of a retry whose first attempt applied before a restart: the outcome is
    /// known (applied), the result is not. `proposalDropped`, so the router reports
    /// etcd's "request timed out" (outcome unknown to the client) and never re-proposes it
    /// under a new ID.
    static func lostResult(_ id: UInt64, revision: Int64) -> ProposalError {
        .proposalDropped("request \(id) already applied (revision \(revision)) before this replica restarted; its result is lost")
    }

    private mutating func remember(_ id: UInt64, _ result: Result<CommandResult, ProposalError>, now: UInt64) {
        if results.updateValue(result, forKey: id) == nil { order.append((id, now)) }
        while results.count > maxCount { evictOldest() }
        while head < order.count, now >= order[head].atNs, now - order[head].atNs > maxAgeNs { evictOldest() }
        if head > 1_024 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }

    private mutating func evictOldest() {
        guard head < order.count else { return }
        results[order[head].id] = nil
        head += 1
    }
}
