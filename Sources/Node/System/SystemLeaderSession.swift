import Base

/// What the system range's leader keeps in memory for ONE Raft term: the oracle block it
/// serves revisions from and the deadline of every lease. Pure value; `SystemRangeRuntime`
/// owns it. A session is built from the replicated state once the leader has confirmed its
/// term and applied everything committed before it (`start`), and is updated by the applies
/// of the leader's own commands in that term (`noteApplied`). A new term starts a new
/// session: the old block is dropped (a gap, never a reuse) and every lease gets its full
/// granted TTL again (etcd's "remaining TTL extended on failover"); a revoking lease stays
/// revoking (it is replicated state).
struct SystemLeaderSession {
    /// Deadline and granted TTL of one lease.
    struct LeaseTimer: Equatable {
        var ttl: Int64
        var deadlineNs: UInt64
        /// The system range revision of the grant (`LeaseRecord.grantRevision`; 0 unknown).
        var grantRevision: Int64 = 0
        /// Since when (this leader's clock) the lease is known to be revoking (its revoke
        /// began: `markLeaseRevoking`); nil while it is live. A revoking lease is gone for
        /// every observer; only `revokeDue` still reports it, so its revoke is finished.
        var revokingSinceNs: UInt64? = nil

        var isRevoking: Bool { revokingSinceNs != nil }
    }

    /// How long a revoking lease is left to the router that began its revoke before
    /// `revokeDue` hands it to the expiry loop (which finishes revokes whose router died).
    static let revokingGraceNs: UInt64 = 1_000_000_000

    let term: UInt64
    /// The persisted high-water mark when the session started: every revision handed out
    /// by any earlier leader is at or below it.
    let floor: Int64
    /// The next revision to hand out.
    private(set) var next: Int64
    /// The last revision of the current block (`next > limit`: no block).
    private(set) var limit: Int64
    var leases: [Int64: LeaseTimer]

    init(term: UInt64, highWaterMark: Int64, leases: [Int64: Int64], grantRevisions: [Int64: Int64] = [:],
         revoking: Set<Int64> = [], nowNs: UInt64) {
        self.term = term
        floor = highWaterMark
        next = highWaterMark + 1
        limit = highWaterMark
        var timers: [Int64: LeaseTimer] = [:]
        for (id, ttl) in leases {
            timers[id] = LeaseTimer(ttl: ttl, deadlineNs: Self.deadline(nowNs, plus: ttl), grantRevision: grantRevisions[id] ?? 0,
                                    revokingSinceNs: revoking.contains(id) ? nowNs : nil)
        }
        self.leases = timers
    }

    /// `nowNs + seconds`, saturating.
    static func deadline(_ nowNs: UInt64, plus seconds: Int64) -> UInt64 {
        let (ns, o1) = UInt64(max(seconds, 0)).multipliedReportingOverflow(by: 1_000_000_000)
        let (d, o2) = nowNs.addingReportingOverflow(ns)
        return o1 || o2 ? .max : d
    }

    /// Revisions left in the block.
    var remaining: Int64 { limit - next + 1 }

    // MARK: oracle

    /// `count` consecutive revisions from the block, or nil when it has fewer left.
    mutating func take(_ count: Int) -> ClosedRange<Int64>? {
        guard count >= 1, remaining >= Int64(count) else { return nil }
        let first = next
        next += Int64(count)
        return first...(next - 1)
    }

    /// Adopts a block this leader allocated in this term. A block not above everything the
    /// session knows is ignored (it cannot happen for the leader's own allocations; the
    /// check keeps a reuse impossible if it ever did). Unused numbers of the old block are
    /// skipped: revisions may have gaps.
    mutating func adopt(first: Int64, last: Int64) {
        guard first > floor, first > limit, first >= next, last >= first else { return }
        next = first
        limit = last
    }

    // MARK: leases

    /// Remaining seconds of `id` (rounded up; <= 0 once expired), nil when unknown.
    func remainingTTL(_ id: Int64, nowNs: UInt64) -> Int64? {
        guard let t = leases[id] else { return nil }
        return Self.remainingSeconds(deadlineNs: t.deadlineNs, nowNs: nowNs)
    }

    static func remainingSeconds(deadlineNs: UInt64, nowNs: UInt64) -> Int64 {
        if deadlineNs > nowNs { return Int64((deadlineNs - nowNs + 999_999_999) / 1_000_000_000) }
        return -Int64((nowNs - deadlineNs) / 1_000_000_000)
    }

    func isExpired(_ id: Int64, nowNs: UInt64) -> Bool {
        guard let t = leases[id] else { return false }
        return t.deadlineNs <= nowNs
    }

    /// The lease as lookups see it: nil when unknown, expired or revoking.
    func live(_ id: Int64, nowNs: UInt64) -> LeaseTimer? {
        guard let t = leases[id], !t.isRevoking, t.deadlineNs > nowNs else { return nil }
        return t
    }

    /// Renews a live lease to its granted TTL; nil when unknown, expired or revoking.
    mutating func keepAlive(_ id: Int64, nowNs: UInt64) -> LeaseTimer? {
        guard var t = live(id, nowNs: nowNs) else { return nil }
        t.deadlineNs = Self.deadline(nowNs, plus: t.ttl)
        leases[id] = t
        return t
    }

    /// Live (not revoking) leases past their deadline, in ID order.
    func expired(nowNs: UInt64) -> [Int64] {
        leases.filter { !$0.value.isRevoking && $0.value.deadlineNs <= nowNs }.map(\.key).sorted()
    }

    /// The leases the expiry loop must revoke, in ID order: the expired ones and those left
    /// revoking for at least `graceNs` (a revoke whose router died before it finished).
    func revokeDue(nowNs: UInt64, graceNs: UInt64 = revokingGraceNs) -> [Int64] {
        let leftRevoking = leases.filter { _, t in
            guard let since = t.revokingSinceNs else { return false }
            return nowNs >= since && nowNs - since >= graceNs
        }.map(\.key)
        return (expired(nowNs: nowNs) + leftRevoking).sorted()
    }

    // MARK: applies of this term

    /// Updates the session after one of this term's system commands applied.
    /// `systemRevision`: the system range's current revision right after the apply (a
    /// grant's revision).
    mutating func noteApplied(_ command: SystemCommand, _ answer: SystemAnswer, nowNs: UInt64, systemRevision: Int64 = 0) {
        switch (command, answer) {
        case (.allocateRevisions, .revisions(let first, let last)):
            adopt(first: first, last: last)
        case (.grantLease, .leaseGranted(let id, let ttl)):
            leases[id] = LeaseTimer(ttl: ttl, deadlineNs: Self.deadline(nowNs, plus: ttl), grantRevision: systemRevision)
        case (.removeLease(let id), .leaseRemoved):
            leases[id] = nil
        case (.markLeaseRevoking(let id), .leaseRevoking(_, let ttl, let grantRevision)):
            var t = leases[id] ?? LeaseTimer(ttl: ttl, deadlineNs: nowNs, grantRevision: grantRevision)
            if t.revokingSinceNs == nil { t.revokingSinceNs = nowNs }
            leases[id] = t
        default:
            break
        }
    }
}
