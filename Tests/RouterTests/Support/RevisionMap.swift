import MVCC

/// Maps the router's revisions to a model store's for comparing answers "modulo revision
/// numbering": the cluster's oracle leaves gaps (read points) and a DeleteRange spanning
/// ranges takes one revision per range, so only the order is shared. Every write the test
/// makes records its (router, model) pair.
struct RevisionMap {
    private(set) var pairs: [Int64: Int64] = [1: 1]

    mutating func record(router: Int64, model: Int64) { pairs[router] = model }

    func model(_ r: Int64) -> Int64? { r == 0 ? 0 : pairs[r] }

    /// The key-value with its revisions in model numbering (unmapped: -1, which never
    /// matches, so a missing mapping fails the comparison).
    func normalize(_ kv: KeyValue) -> KeyValue {
        var kv = kv
        kv.createRevision = model(kv.createRevision) ?? -1
        kv.modRevision = model(kv.modRevision) ?? -1
        return kv
    }

    func normalize(_ r: RangeResponse) -> RangeResponse {
        RangeResponse(revision: 0, kvs: r.kvs.map(normalize), more: r.more, count: r.count)
    }

    func normalize(_ r: TxnResponse) -> TxnResponse {
        TxnResponse(revision: 0, succeeded: r.succeeded, responses: r.responses.map(normalize))
    }

    func normalize(_ op: ResponseOp) -> ResponseOp {
        switch op {
        case .range(let r): .range(normalize(r))
        case .put(let p): .put(PutResponse(revision: 0, prevKV: p.prevKV.map(normalize)))
        case .deleteRange(let d): .deleteRange(DeleteRangeResponse(revision: 0, deleted: d.deleted, prevKVs: d.prevKVs.map(normalize)))
        case .txn(let t): .txn(normalize(t))
        }
    }
}
