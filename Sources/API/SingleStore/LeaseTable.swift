/// The in-memory lessor of one node: live leases with their granted TTL and expiry, and
/// lease ID allocation. Pure state: the caller supplies the time and performs the key
/// deletions a revoke or expiry implies (the table knows nothing about keys).
struct LeaseTable {
    struct Lease {
        /// Seconds, after raising to the minimum.
        var grantedTTL: Int64
        var expiry: Duration
    }

    private(set) var leases: [Int64: Lease] = [:]
    /// Next candidate for an automatically chosen ID.
    private var nextID: Int64
    let minTTL: Int64

    init(minTTL: Int64, firstID: Int64) {
        self.minTTL = minTTL
        self.nextID = max(1, firstID)
    }

    /// Grants `id` (0: a fresh one) for `ttl` seconds, raised to `minTTL`.
    mutating func grant(id requested: Int64, ttl: Int64, now: Duration) throws -> (id: Int64, ttl: Int64) {
        var id = requested
        if id == 0 {
            while leases[nextID] != nil { nextID = nextID == Int64.max ? 1 : nextID + 1 }
            id = nextID
            nextID = nextID == Int64.max ? 1 : nextID + 1
        } else if leases[id] != nil {
            throw EtcdError.leaseExists
        }
        let granted = max(ttl, minTTL)
        leases[id] = Lease(grantedTTL: granted, expiry: now + .seconds(granted))
        return (id, granted)
    }

    /// Whether `id` exists and has not expired at `now`.
    func isLive(_ id: Int64, now: Duration) -> Bool {
        guard let l = leases[id] else { return false }
        return now < l.expiry
    }

    /// Renews a live lease to its granted TTL; 0 for an unknown or expired lease.
    mutating func renew(_ id: Int64, now: Duration) -> Int64 {
        guard isLive(id, now: now), var l = leases[id] else { return 0 }
        l.expiry = now + .seconds(l.grantedTTL)
        leases[id] = l
        return l.grantedTTL
    }

    /// Remaining whole seconds (truncated, as etcd) and the granted TTL; nil when unknown
    /// or expired.
    func timeToLive(_ id: Int64, now: Duration) -> (remaining: Int64, granted: Int64)? {
        guard isLive(id, now: now), let l = leases[id] else { return nil }
        return ((l.expiry - now).components.seconds, l.grantedTTL)
    }

    /// IDs of leases expired at `now`, in ID order.
    func expired(now: Duration) -> [Int64] {
        leases.filter { now >= $0.value.expiry }.keys.sorted()
    }

    mutating func remove(_ id: Int64) { leases.removeValue(forKey: id) }

    /// Live lease IDs in order.
    func liveIDs(now: Duration) -> [Int64] {
        leases.filter { now < $0.value.expiry }.keys.sorted()
    }
}
