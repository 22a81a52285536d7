import Base
import Synchronization

/// Resolved revisions of one node's replicas that have feed consumers (or a resolution in
/// progress). A replica's resolved revision is the highest R such that its range's leader
/// closed the range at R and this replica has applied the leader's wait index for it, so
/// every write of the range with a revision <= R has applied here. It never goes back.
///
/// Owns the per-range entries; the poll loop reports applied indexes each round
/// (`noteApplied`), closes report (R, wait index) pairs (`note`), and feeds register as
/// consumers (`touch`). Entries whose consumers went away are dropped by the closer.
/// Also owns the feeds' long-poll waiters: a feed that found nothing resolved past what it
/// needs parks here (`waitForAdvance`) and is resumed when the range's resolved revision
/// moves, its deadline passes (`expireWaiters`, from the closer loop), the range is
/// dropped, or its task is cancelled — instead of polling on a timer.
final class ResolvedRevisions: Sendable {
    /// A parked long poll: resumed once `resolved > beyond` or at `deadlineNs`.
    struct Waiter {
        var id: UInt64
        var beyond: Int64
        var deadlineNs: UInt64
        var continuation: CheckedContinuation<Void, Never>
    }

    struct Entry {
        var resolved: Int64 = 0
        var waiters: [Waiter] = []
        /// Closes waiting for their index to apply here: (revision, index).
        var pending: [(revision: Int64, index: UInt64)] = []
        /// The replica's applied index, as of the last poll round.
        var applied: UInt64 = 0
        var lastConsumerNs: UInt64 = 0

        mutating func advance() {
            guard !pending.isEmpty else { return }
            let (done, rest) = partition(pending) { $0.index <= applied }
            pending = rest
            for d in done { resolved = max(resolved, d.revision) }
        }

        /// Removes and returns the waiters the current resolved revision satisfies.
        mutating func takeSatisfied() -> [CheckedContinuation<Void, Never>] {
            guard !waiters.isEmpty else { return [] }
            let r = resolved
            let (done, rest) = partition(waiters) { $0.beyond < r }
            waiters = rest
            return done.map(\.continuation)
        }
    }

    let entries = Mutex<[RangeID: Entry]>([:])
    let nextWaiterID = Atomic<UInt64>(0)
    /// Set by `close()` (node stopping): nothing parks any more.
    let closed = Atomic<Bool>(false)

    /// Resumes every parked long poll and refuses new ones (the node is stopping).
    func close() {
        closed.store(true, ordering: .releasing)
        let all = entries.withLock { e -> [CheckedContinuation<Void, Never>] in
            var all: [CheckedContinuation<Void, Never>] = []
            for k in Array(e.keys) {
                all += e[k]!.waiters.map(\.continuation)
                e[k]!.waiters = []
            }
            return all
        }
        for c in all { c.resume() }
    }

    /// Parks the caller until `range`'s resolved revision exceeds `beyond`, `deadlineNs`
    /// passes (with the closer's granularity), the range stops being tracked, or the task is
    /// cancelled. Returns at once when any of these already holds.
    func waitForAdvance(_ range: RangeID, beyond: Int64, deadlineNs: UInt64) async {
        let id = nextWaiterID.add(1, ordering: .relaxed).newValue
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let parked = entries.withLock { e -> Bool in
                    // Cancellation is flagged before the handler runs, so a cancel that
                    // found no waiter to resume is seen here.
                    guard !Task.isCancelled, !closed.load(ordering: .acquiring), var entry = e[range],
                          entry.resolved <= beyond else { return false }
                    entry.waiters.append(Waiter(id: id, beyond: beyond, deadlineNs: deadlineNs, continuation: c))
                    e[range] = entry
                    return true
                }
                if !parked { c.resume() }
            }
        } onCancel: {
            let c = entries.withLock { e -> CheckedContinuation<Void, Never>? in
                guard var entry = e[range], let i = entry.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                let w = entry.waiters.remove(at: i)
                e[range] = entry
                return w.continuation
            }
            c?.resume()
        }
    }

    /// Resumes the waiters whose deadline passed (the closer calls this every interval).
    func expireWaiters(now: UInt64) {
        let expired = entries.withLock { e -> [CheckedContinuation<Void, Never>] in
            var out: [CheckedContinuation<Void, Never>] = []
            for (range, var entry) in e where entry.waiters.contains(where: { $0.deadlineNs <= now }) {
                let (done, rest) = partition(entry.waiters) { $0.deadlineNs <= now }
                entry.waiters = rest
                out += done.map(\.continuation)
                e[range] = entry
            }
            return out
        }
        for c in expired { c.resume() }
    }

    /// Number of parked long polls (tests).
    var waiterCount: Int { entries.withLock { $0.values.reduce(0) { $0 + $1.waiters.count } } }

    /// The resolved revision of `range` (nil when not tracked).
    func resolved(of range: RangeID) -> Int64? { entries.withLock { $0[range]?.resolved } }

    /// Registers a consumer of `range` (starting to track it) and returns its resolved
    /// revision.
    func touch(_ range: RangeID, now: UInt64) -> Int64 {
        entries.withLock { e in
            e[range, default: Entry()].lastConsumerNs = now
            return e[range]!.resolved
        }
    }

    /// The range was closed at `revision` by its leader: resolved once `index` applied here.
    func note(_ range: RangeID, revision: Int64, atIndex index: UInt64) {
        let woken = entries.withLock { e -> [CheckedContinuation<Void, Never>] in
            guard var entry = e[range] else { return [] }
            entry.pending.append((revision, index))
            entry.advance()
            let woken = entry.takeSatisfied()
            e[range] = entry
            return woken
        }
        for c in woken { c.resume() }
    }

    /// The leader served a read at `revision`: everything <= it has applied here.
    func resolve(_ range: RangeID, at revision: Int64) {
        let woken = entries.withLock { e -> [CheckedContinuation<Void, Never>] in
            guard var entry = e[range] else { return [] }
            entry.resolved = max(entry.resolved, revision)
            let woken = entry.takeSatisfied()
            e[range] = entry
            return woken
        }
        for c in woken { c.resume() }
    }

    /// The poll loop's report of each tracked replica's applied index and the revision of its
    /// last applied write (called every round). The revision is resolved at once: MVCC applies
    /// a range's writes only at increasing revisions (`revisionNotIncreasing`, on every
    /// replica alike), so once the write at revision W applied here no write of the range at
    /// or below W can apply later. nil revision: resolve through closes only.
    func noteApplied(_ applied: (RangeID) -> (index: UInt64, revision: Int64?)?) {
        let woken = entries.withLock { e -> [CheckedContinuation<Void, Never>] in
            guard !e.isEmpty else { return [] }
            var woken: [CheckedContinuation<Void, Never>] = []
            for (range, var entry) in e {
                guard let a = applied(range), a.index != entry.applied else { continue }
                entry.applied = a.index
                if let revision = a.revision { entry.resolved = max(entry.resolved, revision) }
                entry.advance()
                woken += entry.takeSatisfied()
                e[range] = entry
            }
            return woken
        }
        for c in woken { c.resume() }
    }

    /// Ranges with a consumer seen within `idleNs`; drops the others.
    func activeConsumers(now: UInt64, idleNs: UInt64) -> [RangeID] {
        let (ranges, dropped) = entries.withLock { e -> ([RangeID], [CheckedContinuation<Void, Never>]) in
            var dropped: [CheckedContinuation<Void, Never>] = []
            for (range, entry) in e where now > entry.lastConsumerNs && now - entry.lastConsumerNs > idleNs {
                dropped += entry.waiters.map(\.continuation)
                e[range] = nil
            }
            return (e.keys.sorted(), dropped)
        }
        for c in dropped { c.resume() }
        return ranges
    }

    /// Stops tracking `range` (its replica left the node); its parked long polls return.
    func forget(_ range: RangeID) {
        let dropped = entries.withLock { $0.removeValue(forKey: range)?.waiters.map(\.continuation) ?? [] }
        for c in dropped { c.resume() }
    }
}
