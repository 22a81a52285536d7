import MVCC

/// Leases: the lessor lives in the writer state, so granting, attaching (a put) and
/// revoking are serialized with every write.
extension SingleStoreBackend: EtcdLeaseBackend {
    public func leaseGrant(id: Int64, ttl: Int64) async throws -> LeaseGrantResult {
        try writer.withLock { w in
            try checkNoSpace(w)
            let (granted, grantedTTL) = try w.leases.grant(id: id, ttl: ttl, now: clock.now())
            return LeaseGrantResult(id: granted, ttl: grantedTTL, revision: store.currentRevision)
        }
    }

    public func leaseRevoke(id: Int64) async throws -> Int64 {
        try write { w, _ in
            guard w.leases.leases[id] != nil else { throw EtcdError.leaseNotFound }
            try revokeLocked(id, &w)
        }
        return store.currentRevision
    }

    public func leaseKeepAlive(id: Int64) async throws -> LeaseKeepAliveResult {
        let ttl = writer.withLock { w in w.leases.renew(id, now: clock.now()) }
        return LeaseKeepAliveResult(id: id, ttl: ttl, revision: store.currentRevision)
    }

    public func leaseTimeToLive(id: Int64, keys: Bool) async throws -> LeaseTimeToLiveResult {
        let ttl = writer.withLock { w in w.leases.timeToLive(id, now: clock.now()) }
        guard let ttl else {
            return LeaseTimeToLiveResult(id: id, ttl: -1, grantedTTL: 0, keys: [], revision: store.currentRevision)
        }
        let attached = keys ? try store.keys(attachedTo: id) : []
        return LeaseTimeToLiveResult(
            id: id, ttl: ttl.remaining, grantedTTL: ttl.granted, keys: attached, revision: store.currentRevision)
    }

    public func leases() async throws -> (ids: [Int64], revision: Int64) {
        let ids = writer.withLock { w in w.leases.liveIDs(now: clock.now()) }
        return (ids, store.currentRevision)
    }

    /// Revokes every lease expired by now (the expiry loop calls it; tests call it after
    /// moving a manual clock). Returns the IDs revoked.
    @discardableResult
    public func revokeExpiredLeases() throws -> [Int64] {
        let due = writer.withLock { w in w.leases.expired(now: clock.now()) }
        guard !due.isEmpty else { return [] }
        return try write { w, _ in
            let now = clock.now()
            var revoked: [Int64] = []
            for id in due where w.leases.leases[id] != nil && !w.leases.isLive(id, now: now) {
                try revokeLocked(id, &w)
                revoked.append(id)
            }
            return revoked
        }
    }

    /// Deletes the lease's keys and forgets it. The keys go in txns of at most
    /// `RequestValidation.maxTxnOps` deletes, each at its own revision (a lease with more
    /// keys than that is not revoked at one revision — etcd's is).
    func revokeLocked(_ id: Int64, _ w: inout WriterState) throws {
        let keys = try store.keys(attachedTo: id)
        var i = 0
        while i < keys.count {
            let chunk = keys[i..<min(i + RequestValidation.maxTxnOps, keys.count)]
            let txn = TxnRequest(success: chunk.map { .deleteRange(DeleteRangeRequest(key: $0)) })
            _ = try store.txn(txn, revision: store.currentRevision + 1)
            i += chunk.count
        }
        w.leases.remove(id)
    }
}
