import MVCC

/// Deletes every key of a range attached to a revoked lease, at one revision (as etcd's
/// lessor does), through MVCC's `deleteKeys(_:revision:)`: one main revision for the whole
/// batch, increasing sub revisions in key order, no cap on the number of keys. Owns nothing.
enum LeaseRevocation {
    /// Deletes the keys of `store` attached to `lease` at `revision`. With none, nothing is
    /// written and the answer carries the store's current revision (etcd spends no revision).
    static func revoke(_ lease: Int64, in store: MVCCStore, revision: Int64) throws -> DeleteRangeResponse {
        let keys = try store.keys(attachedTo: lease)
        if keys.isEmpty { return DeleteRangeResponse(revision: store.currentRevision) }
        return try store.deleteKeys(keys, revision: revision)
    }
}
