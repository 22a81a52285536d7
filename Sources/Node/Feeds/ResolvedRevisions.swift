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
final class ResolvedRevisions: Sendable {
    struct Entry {
        var resolved: Int64 = 0
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
    }

    let entries = Mutex<[RangeID: Entry]>([:])

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
        entries.withLock { e in
            guard var entry = e[range] else { return }
            entry.pending.append((revision, index))
            entry.advance()
            e[range] = entry
        }
    }

    /// The leader served a read at `revision`: everything <= it has applied here.
    func resolve(_ range: RangeID, at revision: Int64) {
        entries.withLock { e in
            guard e[range] != nil else { return }
            e[range]!.resolved = max(e[range]!.resolved, revision)
        }
    }

    /// The poll loop's report of applied indexes (called every round).
    func noteApplied(_ applied: (RangeID) -> UInt64?) {
        entries.withLock { e in
            guard !e.isEmpty else { return }
            for (range, var entry) in e {
                guard let a = applied(range), a != entry.applied else { continue }
                entry.applied = a
                entry.advance()
                e[range] = entry
            }
        }
    }

    /// Ranges with a consumer seen within `idleNs`; drops the others.
    func activeConsumers(now: UInt64, idleNs: UInt64) -> [RangeID] {
        entries.withLock { e in
            for (range, entry) in e where now > entry.lastConsumerNs && now - entry.lastConsumerNs > idleNs {
                e[range] = nil
            }
            return e.keys.sorted()
        }
    }

    /// Stops tracking `range` (its replica left the node).
    func forget(_ range: RangeID) { _ = entries.withLock { $0.removeValue(forKey: range) } }
}
