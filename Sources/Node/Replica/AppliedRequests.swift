import Base

/// The client request IDs a replica applied within its last `windowEntries` log entries,
/// with their results: the memory behind request de-duplication. It is consulted twice:
///
/// - at proposal time on the leader (`result(of:)`): a retry of an applied request gets the
///   first result instead of being proposed again;
/// - at APPLY time on every replica (`duplicate(of:at:)`): a command whose request ID
///   already applied successfully at an index less than `windowEntries` below its own is
///   not applied again; it yields the first result. This is what makes a second log entry
///   with the same ID harmless, whatever path put it there (issue 6, finding 2).
///
/// The apply-time decision must be identical on every replica for the same log, so it
/// depends only on log positions: the window is counted in log entries (index distance),
/// never in wall-clock time, and a record is consulted only inside that window even if it
/// is still stored. Stored records are evicted by index too (`evict(below:)`), lazily.
///
/// Only successful writes are recorded: a failed command changed nothing and may run again
/// (a write refused for a stale revision is re-proposed under the same ID). Records rebuilt
/// after a restart may be `lost` (applied, result unknown: a retry is refused at proposal
/// time and skipped at apply time) or `uncertain` (the WAL entry is there but MVCC cannot
/// tell whether it changed anything: refused at proposal time, NOT skipped at apply time —
/// see `AppliedRequests+Recovery.swift` for that limit).
///
/// Retries older than the window: a retry whose ID is not recorded is indistinguishable
/// from a new request, so the table also keeps, per router (the ID's high bits), the
/// highest request counter it has evicted (`evictedCounter`). Router IDs grow with time, so
/// a retry whose ID was evicted has a counter at or below that watermark and is refused at
/// proposal time ("outcome unknown") instead of applying twice.
struct AppliedRequests {
    /// What a record says about its request.
    enum Outcome: Equatable {
        /// Applied with this result.
        case applied(CommandResult)
        /// Applied (at `revision`) before a restart; the result is lost.
        case lost(revision: Int64)
        /// Its entry (at `revision`) was applied before a restart, but whether it changed
        /// anything cannot be told: a retry is refused, a second entry still applies.
        case uncertain(revision: Int64)
    }

    struct Record: Equatable {
        var index: UInt64
        var outcome: Outcome
    }

    /// Bits of a router request ID below the router's node ID (`Router.counterBits`).
    static let counterBits: UInt64 = 44
    /// How far below a watermark a counter still counts as a possible retry.
    static let retryHorizon: UInt64 = 1 << 40

    /// The de-duplication window, in log entries.
    let windowEntries: UInt64
    private var records: [UInt64: Record] = [:]
    /// (request ID, log index) in increasing index order; `head` is the oldest live one.
    private var order: [(id: UInt64, index: UInt64)] = []
    private var head = 0
    /// Per router node (ID >> counterBits): the highest counter among evicted IDs.
    private(set) var evictedCounter: [UInt64: UInt64] = [:]

    init(windowEntries: Int) {
        self.windowEntries = UInt64(max(1, windowEntries))
    }

    var count: Int { records.count }

    /// The stored record of `id` (any index), for tests and snapshots.
    func record(of id: UInt64) -> Record? { records[id] }

    // MARK: proposal time (leader only; need not be deterministic)

    /// The answer for a retry of `id` at proposal time: its first result; the refusal of a
    /// request applied before a restart whose result is lost (or unknown); the refusal of a
    /// request that may have applied before the window; nil when `id` may be proposed.
    func result(of id: UInt64) -> Result<CommandResult, ProposalError>? {
        if let r = records[id] {
            switch r.outcome {
            case .applied(let result): return .success(result)
            case .lost(let revision), .uncertain(let revision): return .failure(Self.lostResult(id, revision: revision))
            }
        }
        let (router, counter) = Self.split(id)
        // A counter far below the watermark is a router whose counter wrapped (or was
        // reseeded), not a retry: no retry outlives 2^40 requests of its router.
        if let evicted = evictedCounter[router], counter <= evicted, evicted - counter < Self.retryHorizon {
            return .failure(Self.outsideWindow(id))
        }
        return nil
    }

    // MARK: apply time (every replica; deterministic)

    /// The first outcome of `id` when an entry at `index` carrying it is a duplicate: `id`
    /// applied (or was rebuilt as applied) at an index in `[index - windowEntries, index)`.
    /// nil: apply the entry.
    func duplicate(of id: UInt64, at index: UInt64) -> Result<CommandResult, ProposalError>? {
        guard let r = records[id], r.index < index, index - r.index <= windowEntries else { return nil }
        switch r.outcome {
        case .applied(let result): return .success(result)
        case .lost(let revision): return .failure(Self.lostResult(id, revision: revision))
        case .uncertain: return nil
        }
    }

    // MARK: recording

    /// Records that `id` applied at `index` with `result` (the first application wins).
    mutating func record(_ id: UInt64, _ result: CommandResult, index: UInt64) {
        remember(id, Record(index: index, outcome: .applied(result)))
    }

    /// Records that `id` applied at `index` (revision `revision`) before a restart, its
    /// result unknown.
    mutating func recordLost(_ id: UInt64, index: UInt64, revision: Int64) {
        remember(id, Record(index: index, outcome: .lost(revision: revision)))
    }

    /// Records that `id`'s entry at `index` may have changed something before a restart.
    mutating func recordUncertain(_ id: UInt64, index: UInt64, revision: Int64) {
        remember(id, Record(index: index, outcome: .uncertain(revision: revision)))
    }

    /// Raises the evicted-counter watermark of `router` (a table rebuilt from a snapshot
    /// or after a restart starts from the sender's or a conservative watermark).
    mutating func noteEvicted(router: UInt64, counter: UInt64) {
        evictedCounter[router] = max(evictedCounter[router] ?? 0, counter)
    }

    private mutating func remember(_ id: UInt64, _ record: Record) {
        guard records[id] == nil else { return }
        records[id] = record
        if let last = order.last, last.index > record.index {
            // Out of order only while rebuilding; keep `order` sorted by index.
            order.append((id, record.index))
            order[head...].sort { $0.index < $1.index }
        } else {
            order.append((id, record.index))
        }
    }

    /// Forgets records applied below `index` (they can no longer decide anything once the
    /// replica applies past `index - 1 + windowEntries`), raising the watermarks.
    mutating func evict(below index: UInt64) {
        while head < order.count, order[head].index < index {
            let id = order[head].id
            records[id] = nil
            let (router, counter) = Self.split(id)
            noteEvicted(router: router, counter: counter)
            head += 1
        }
        if head > 1_024 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }

    /// The records at or below `index` (those a snapshot at `index` must carry), in index
    /// order.
    func records(through index: UInt64) -> [(id: UInt64, record: Record)] {
        order[head...].compactMap { e in
            guard e.index <= index, let r = records[e.id] else { return nil }
            return (e.id, r)
        }
    }

    // MARK: refusals

    static func split(_ id: UInt64) -> (router: UInt64, counter: UInt64) {
        (id >> counterBits, id & ((1 << counterBits) - 1))
    }

    /// The refusal of a retry whose first attempt applied before a restart: the outcome is
    /// (or may be) applied, the result is not known. `proposalDropped`, so the router
    /// reports etcd's "request timed out" (outcome unknown to the client) and never
    /// re-proposes it under a new ID.
    static func lostResult(_ id: UInt64, revision: Int64) -> ProposalError {
        .proposalDropped("request \(id) already applied or may have (revision \(revision)) before this replica restarted; its result is lost")
    }

    /// The refusal of a retry that may have applied before the de-duplication window.
    static func outsideWindow(_ id: UInt64) -> ProposalError {
        .proposalDropped("request \(id) may have applied before the de-duplication window; its outcome is unknown")
    }
}
