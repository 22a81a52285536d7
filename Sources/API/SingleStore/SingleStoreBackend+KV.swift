public import MVCC

/// KV operations: reads go straight to the store; writes take the write path (next
/// revision, lease and NOSPACE checks, commit, publish).
extension SingleStoreBackend: EtcdKVBackend {
    public func range(_ request: RangeRequest) async throws -> RangeResponse {
        try store.range(request)
    }

    public func put(_ request: PutRequest) async throws -> PutResponse {
        try write { w, revision in
            try checkNoSpace(w)
            try checkLease(request.lease, w)
            return try store.put(request, revision: revision)
        }
    }

    public func deleteRange(_ request: DeleteRangeRequest) async throws -> DeleteRangeResponse {
        try write { _, revision in try store.deleteRange(request, revision: revision) }
    }

    public func txn(_ request: TxnRequest) async throws -> TxnResponse {
        if request.isReadOnly { return try store.txn(request, revision: nil) }
        return try write { w, revision in
            var leases: [Int64] = []
            Self.collectPutLeases(request, into: &leases)
            if QuotaKVBackend.mayPut(request) { try checkNoSpace(w) }
            for lease in leases { try checkLease(lease, w) }
            return try store.txn(request, revision: revision)
        }
    }

    /// Compacts under the writer lock (writes wait; reads do not), then commits the
    /// removals, so `physical` is always honoured.
    public func compact(revision: Int64, physical: Bool) async throws -> CompactResponse {
        try writer.withLock { _ in
            let resp = try store.compact(revision)
            try store.commit(appliedIndex: UInt64(store.currentRevision))
            return resp
        }
    }

    func checkLease(_ lease: Int64, _ w: WriterState) throws {
        if lease != 0 && !w.leases.isLive(lease, now: clock.now()) { throw EtcdError.leaseNotFound }
    }

    /// Leases of every put in both branches, nested txns included (etcd checks the taken
    /// branch only; checking both refuses a few txns etcd would run).
    static func collectPutLeases(_ t: TxnRequest, into leases: inout [Int64]) {
        for op in t.success + t.failure {
            switch op {
            case .put(let p) where p.lease != 0: leases.append(p.lease)
            case .txn(let inner): collectPutLeases(inner, into: &leases)
            default: break
            }
        }
    }
}
