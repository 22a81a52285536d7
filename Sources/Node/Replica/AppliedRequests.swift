import Base

/// The request IDs a replica applied recently, with their results: the memory behind
/// request de-duplication (a retry of an applied request gets the first result instead of
/// applying twice). Bounded by count and age; kept in memory only, so a restarted node
/// forgets the requests applied before the restart (a retry reaching it after that applies
/// again). Every replica records what it applies, so a new leader knows its predecessor's
/// requests. Only successful results are remembered: a failed command changed nothing and
/// may run again.
struct AppliedRequests {
    let maxCount: Int
    let maxAgeNs: UInt64
    private var results: [UInt64: CommandResult] = [:]
    /// (request ID, applied at) in apply order; `head` is the oldest live element.
    private var order: [(id: UInt64, atNs: UInt64)] = []
    private var head = 0

    init(maxCount: Int, maxAgeNs: UInt64) {
        self.maxCount = max(1, maxCount)
        self.maxAgeNs = maxAgeNs
    }

    var count: Int { results.count }

    func result(of id: UInt64) -> CommandResult? { results[id] }

    mutating func record(_ id: UInt64, _ result: CommandResult, now: UInt64) {
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
