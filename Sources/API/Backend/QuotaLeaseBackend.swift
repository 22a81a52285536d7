/// etcd's space quota in front of the lease backend: while a NOSPACE alarm is active,
/// LeaseGrant fails with "etcdserver: mvcc: database space exceeded" (etcd's quota applies to
/// LeaseGrant requests as to puts); Revoke, KeepAlive, TimeToLive and Leases still work, so
/// operators can free space by revoking leases. Owns nothing.
public struct QuotaLeaseBackend: EtcdLeaseBackend {
    let inner: any EtcdLeaseBackend
    let noSpace: @Sendable () -> Bool

    public init(inner: any EtcdLeaseBackend, noSpace: @escaping @Sendable () -> Bool) {
        self.inner = inner
        self.noSpace = noSpace
    }

    public func leaseGrant(id: Int64, ttl: Int64) async throws -> LeaseGrantResult {
        if noSpace() { throw EtcdError.noSpace }
        return try await inner.leaseGrant(id: id, ttl: ttl)
    }

    public func leaseRevoke(id: Int64) async throws -> Int64 { try await inner.leaseRevoke(id: id) }

    public func leaseKeepAlive(id: Int64) async throws -> LeaseKeepAliveResult { try await inner.leaseKeepAlive(id: id) }

    public func leaseTimeToLive(id: Int64, keys: Bool) async throws -> LeaseTimeToLiveResult {
        try await inner.leaseTimeToLive(id: id, keys: keys)
    }

    public func leases() async throws -> (ids: [Int64], revision: Int64) { try await inner.leases() }
}
