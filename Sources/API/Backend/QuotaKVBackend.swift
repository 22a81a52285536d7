public import MVCC

/// etcd's space quota in front of the KV backend: while a NOSPACE alarm is active, Put and
/// any Txn that could write fail with "etcdserver: mvcc: database space exceeded"; reads,
/// DeleteRange and Compact still work (so operators can free space). Owns nothing.
public struct QuotaKVBackend: EtcdKVBackend {
    let inner: any EtcdKVBackend
    let noSpace: @Sendable () -> Bool

    public init(inner: any EtcdKVBackend, noSpace: @escaping @Sendable () -> Bool) {
        self.inner = inner
        self.noSpace = noSpace
    }

    public func range(_ request: RangeRequest) async throws -> RangeResponse { try await inner.range(request) }

    public func put(_ request: PutRequest) async throws -> PutResponse {
        if noSpace() { throw EtcdError.noSpace }
        return try await inner.put(request)
    }

    public func deleteRange(_ request: DeleteRangeRequest) async throws -> DeleteRangeResponse {
        try await inner.deleteRange(request)
    }

    public func txn(_ request: TxnRequest) async throws -> TxnResponse {
        if noSpace() && Self.mayPut(request) { throw EtcdError.noSpace }
        return try await inner.txn(request)
    }

    public func compact(revision: Int64, physical: Bool) async throws -> CompactResponse {
        try await inner.compact(revision: revision, physical: physical)
    }

    /// Whether any branch of the txn (nested ones included) holds a Put.
    static func mayPut(_ t: TxnRequest) -> Bool {
        (t.success + t.failure).contains { op in
            switch op {
            case .put: true
            case .txn(let inner): mayPut(inner)
            default: false
            }
        }
    }
}
