import Glibc
import Synchronization

/// Hands out global revisions: `count` consecutive revisions, all strictly greater than
/// every revision it handed out before the call started. The cluster's implementation is
/// the system range's oracle (`NodeHost.oracleRevisions`, reached through
/// `NodeHost.freshRevisions`); `InMemoryRevisionOracle` serves tests and single-process
/// clusters.
public protocol RevisionSource: Sendable {
    func revisions(count: Int) async throws(ProposalError) -> ClosedRange<Int64>
}

/// A revision oracle in memory: one counter, shared by every node of a process that holds
/// the same instance. Owns only the counter; persists nothing (a restarted process starts
/// again at `after + 1`, so it is for tests, benchmarks and throwaway clusters).
public final class InMemoryRevisionOracle: RevisionSource {
    let last: Mutex<Int64>
    let fetchCount = Atomic<Int>(0)

    public init(after: Int64 = 0) { last = Mutex(after) }

    public func revisions(count: Int) async throws(ProposalError) -> ClosedRange<Int64> {
        precondition(count > 0, "asked for \(count) revisions")
        fetchCount.add(1, ordering: .relaxed)
        return last.withLock { l in
            let first = l + 1
            l += Int64(count)
            return first...l
        }
    }

    /// The highest revision handed out so far.
    public var lastIssued: Int64 { last.withLock { $0 } }

    /// How many requests reached the oracle (batching shows as fewer fetches than users).
    public var fetches: Int { fetchCount.load(ordering: .relaxed) }
}

/// Batches one node's revision requests: at most one fetch is outstanding at a time; the
/// requests that arrive meanwhile are served together by the next fetch (one request for
/// the sum of their counts, split in arrival order). Owns the waiting requests; the fetch
/// itself is the caller's closure (the node's `freshRevisions`). Every request is served
/// by a fetch that started after the request arrived, so its revisions are above every
/// revision handed out before the request.
final class RevisionBatcher: Sendable {
    typealias Fetch = @Sendable (Int) async throws(ProposalError) -> ClosedRange<Int64>
    typealias Answer = Result<ClosedRange<Int64>, ProposalError>

    struct Waiter {
        var count: Int
        var continuation: CheckedContinuation<Answer, Never>
    }

    struct State {
        var waiting: [Waiter] = []
        var fetching = false
    }

    let state = Mutex(State())

    /// `count` revisions, fetched through `fetch` together with the other waiting requests.
    func revisions(count: Int, via fetch: @escaping Fetch) async -> Answer {
        await withCheckedContinuation { (c: CheckedContinuation<Answer, Never>) in
            let startFetching = state.withLock { s -> Bool in
                s.waiting.append(Waiter(count: count, continuation: c))
                guard !s.fetching else { return false }
                s.fetching = true
                return true
            }
            if startFetching { Task { await self.drain(fetch) } }
        }
    }

    /// Fetches for the waiting requests until none is left.
    func drain(_ fetch: Fetch) async {
        while true {
            let batch = state.withLock { s -> [Waiter] in
                let b = s.waiting
                s.waiting = []
                if b.isEmpty { s.fetching = false }
                return b
            }
            if batch.isEmpty { return }
            let total = batch.reduce(0) { $0 + $1.count }
            do throws(ProposalError) {
                let block = try await fetch(total)
                guard block.count >= total else {
                    throw ProposalError.proposalDropped("oracle returned \(block.count) of \(total) revisions")
                }
                var next = block.lowerBound
                for w in batch {
                    w.continuation.resume(returning: .success(next...(next + Int64(w.count) - 1)))
                    next += Int64(w.count)
                }
            } catch {
                for w in batch { w.continuation.resume(returning: .failure(error)) }
            }
        }
    }
}
