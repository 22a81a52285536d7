import MVCC

/// Builds the one MVCC transaction that deletes every key of a range attached to a revoked
/// lease, at one revision (as etcd's lessor does).
///
/// `MVCCStore.txn` applies etcd's request limit (128 ops per txn, `RequestValidation`),
/// and the store has no bulk delete yet (requested from MVCC: `deleteKeys(_:revision:)`).
/// A nested txn spends the ops of its parent level from the same budget, so the keys are
/// packed as a tree of nested txns with at most `fanout` (32) ops per level: up to 128 keys
/// go flat; beyond that 32 children per level, at most 3 nested levels, leaves of 32
/// deletes: 32⁴ = 1,048,576 keys in one transaction. Owns nothing.
enum LeaseRevocation {
    static let fanout = 32
    /// The most keys one revocation can delete in one range.
    static let maxKeys = 1 << 20

    /// The transaction deleting `keys` (distinct live keys, any order); nil beyond `maxKeys`.
    static func txn(deleting keys: [[UInt8]]) -> TxnRequest? {
        guard keys.count <= maxKeys else { return nil }
        if keys.count <= RequestValidation.maxTxnOps { return TxnRequest(success: deletes(keys[...])) }
        return TxnRequest(success: ops(keys[...]))
    }

    /// At most `fanout` ops covering `keys`: the deletes themselves, or nested txns each
    /// covering a slice of a power of `fanout` keys.
    static func ops(_ keys: ArraySlice<[UInt8]>) -> [RequestOp] {
        if keys.count <= fanout { return deletes(keys) }
        var childKeys = fanout
        while childKeys * fanout < keys.count { childKeys *= fanout }
        return stride(from: keys.startIndex, to: keys.endIndex, by: childKeys).map { i in
            .txn(TxnRequest(success: ops(keys[i..<min(i + childKeys, keys.endIndex)])))
        }
    }

    static func deletes(_ keys: ArraySlice<[UInt8]>) -> [RequestOp] {
        keys.map { .deleteRange(DeleteRangeRequest(key: $0)) }
    }

    /// Keys deleted by a (possibly nested) txn response.
    static func deletedCount(_ response: TxnResponse) -> Int64 {
        response.responses.reduce(0) { sum, op in
            switch op {
            case .deleteRange(let d): sum + d.deleted
            case .txn(let t): sum + deletedCount(t)
            case .range, .put: sum
            }
        }
    }
}
