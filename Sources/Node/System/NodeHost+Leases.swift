import Base

/// The cluster-wide lease table on the system range leader. Grant, revoking mark and remove
/// go through Raft (`SystemCommand.grantLease` / `.markLeaseRevoking` / `.removeLease`); deadlines are leader-local
/// (monotonic clock) in the term's session and never written to Raft, so a keep-alive is
/// memory-only. A new leader gives every lease its full granted TTL again.
extension NodeHost {
    /// etcd's `MaxLeaseTTL` (seconds).
    static let maxLeaseTTL: Int64 = 9_000_000_000

    /// etcd's minimum lease TTL: 1.5 election timeouts, rounded up to whole seconds
    /// (`minTTL = ceil((3 * electionTicks / 2) * tickMs)`).
    var minLeaseTTL: Int64 {
        let ms = Int64((3 * config.electionTicks) / 2) * Int64(config.tickIntervalMs)
        return max(1, (ms + 999) / 1_000)
    }

    func grantLease(id: Int64, ttl: Int64) async throws(ProposalError) -> LeaseRecord? {
        guard ttl <= Self.maxLeaseTTL else { throw .proposalDropped("etcdserver: too large lease TTL") }
        let granted = max(ttl, minLeaseTTL)
        let term = try await confirmSystemLeadership()
        // A random ID may hit a live one (or one granted meanwhile): apply refuses it, try another.
        for _ in 0..<8 {
            let chosen = id != 0 ? id : freshLeaseID(term: term)
            switch try await proposeSystem(.grantLease(id: chosen, ttl: granted)) {
            case .leaseGranted(let gid, let gttl):
                let grant = system.withSession(term: term) { $0.leases[gid]?.grantRevision } ?? nil
                return LeaseRecord(id: gid, grantedTTL: gttl, remainingTTL: gttl, grantRevision: grant ?? 0)
            case .leaseExists:
                if id != 0 { return nil }
            case let other:
                throw .proposalDropped("lease grant answered \(other)")
            }
        }
        throw .proposalDropped("no free lease ID found")
    }

    /// A random positive ID not live in the session.
    private func freshLeaseID(term: UInt64) -> Int64 {
        while true {
            let candidate = Int64.random(in: 1...Int64.max)
            let live = system.withSession(term: term) { $0.leases[candidate] != nil } ?? false
            if !live { return candidate }
        }
    }

    func lookupLease(id: Int64) async throws(ProposalError) -> LeaseRecord? {
        let term = try await confirmSystemLeadership()
        let now = Self.nowNs()
        guard let found = system.withSession(term: term, { s -> LeaseRecord? in
            guard let t = s.live(id, nowNs: now) else { return nil }
            return LeaseRecord(id: id, grantedTTL: t.ttl,
                               remainingTTL: SystemLeaderSession.remainingSeconds(deadlineNs: t.deadlineNs, nowNs: now),
                               grantRevision: t.grantRevision)
        }) else { throw .notLeader(leaderHint: systemLeader()) }
        return found
    }

    func keepLeaseAlive(id: Int64) async throws(ProposalError) -> LeaseRecord? {
        let term = try await confirmSystemLeadership()
        let now = Self.nowNs()
        guard let renewed = system.withSession(term: term, { s -> LeaseRecord? in
            s.keepAlive(id, nowNs: now).map {
                LeaseRecord(id: id, grantedTTL: $0.ttl, remainingTTL: $0.ttl, grantRevision: $0.grantRevision)
            }
        }) else { throw .notLeader(leaderHint: systemLeader()) }
        return renewed
    }

    func removeLease(id: Int64) async throws(ProposalError) -> Bool {
        _ = try await confirmSystemLeadership()
        switch try await proposeSystem(.removeLease(id: id)) {
        case .leaseRemoved(let existed): return existed
        case let other: throw .proposalDropped("lease remove answered \(other)")
        }
    }

    /// Every recorded lease that is not revoking, in ID order; expired ones not yet removed
    /// have remainingTTL <= 0.
    func allLeases() async throws(ProposalError) -> [LeaseRecord] {
        let term = try await confirmSystemLeadership()
        let now = Self.nowNs()
        guard let all = system.withSession(term: term, { s in
            s.leases.filter { !$0.value.isRevoking }.keys.sorted().map { id in
                let t = s.leases[id]!
                return LeaseRecord(id: id, grantedTTL: t.ttl,
                                   remainingTTL: SystemLeaderSession.remainingSeconds(deadlineNs: t.deadlineNs, nowNs: now),
                                   grantRevision: t.grantRevision)
            }
        }) else { throw .notLeader(leaderHint: systemLeader()) }
        return all
    }

    /// The leases to revoke: past their deadline, or left revoking (`SystemLeaderSession.revokeDue`);
    /// empty unless this node leads the system range.
    func expiredLeaseIDs() async -> [Int64] {
        guard isLeader(of: .system), let term = try? await confirmSystemLeadership() else { return [] }
        let now = Self.nowNs()
        return system.withSession(term: term) { $0.revokeDue(nowNs: now) } ?? []
    }

    /// Begins the revoke of lease `id` (`SystemCommand.markLeaseRevoking`, through Raft):
    /// from its apply on, the lease is gone for lookups, keep-alives and the list. Answers
    /// the record (remainingTTL 0, with the grant revision the sweeps name), nil when no
    /// such lease is recorded. Idempotent: a lease already revoking answers alike.
    func markLeaseRevoking(id: Int64) async throws(ProposalError) -> LeaseRecord? {
        _ = try await confirmSystemLeadership()
        switch try await proposeSystem(.markLeaseRevoking(id: id)) {
        case .leaseRevoking(_, let ttl, let grantRevision):
            return LeaseRecord(id: id, grantedTTL: ttl, remainingTTL: 0, grantRevision: grantRevision)
        case .leaseUnknown:
            return nil
        case let other:
            throw .proposalDropped("lease revoke answered \(other)")
        }
    }
}
