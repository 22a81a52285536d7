/// Transactions: etcd's `compareToPath`, `applyCompare`, `checkTxn` and `executeTxn`
/// (etcdserver/txn/txn.go). Compares and checks see the state before the txn; the branch
/// ops run in order and see the txn's earlier writes.
extension RangeState {
    /// Which branch each (nested) txn takes, depth first, as etcd's `txnPath`.
    func comparePath(_ t: TxnRequest, current: Int64, _ rtx: any MVCCReadTxn) throws -> [Bool] {
        var path = [try applyCompares(t.compare, current: current, rtx)]
        for case .txn(let nested) in (path[0] ? t.success : t.failure) {
            path += try comparePath(nested, current: current, rtx)
        }
        return path
    }

    func applyCompares(_ cmps: [Compare], current: Int64, _ rtx: any MVCCReadTxn) throws -> Bool {
        for c in cmps where !(try applyCompare(c, current: current, rtx)) { return false }
        return true
    }

    /// etcd's `applyCompare`: every key of the compare range must satisfy it; a missing key
    /// compares as the zero KeyValue except for VALUE, which then always fails.
    func applyCompare(_ c: Compare, current: Int64, _ rtx: any MVCCReadTxn) throws -> Bool {
        let kvs: [KeyValue]
        do {
            kvs = try rangeKeys(
                c.key, Self.indexEnd(c.rangeEnd), requested: 0, current: current, limit: 0,
                countOnly: false, rtx
            ).kvs
        } catch is MVCCError {
            return false
        }
        if kvs.isEmpty {
            if case .value = c.target { return false }
            return Self.compareKV(c, KeyValue(key: []))
        }
        return kvs.allSatisfy { Self.compareKV(c, $0) }
    }

    static func compareKV(_ c: Compare, _ kv: KeyValue) -> Bool {
        func cmp(_ a: Int64, _ b: Int64) -> Int { a < b ? -1 : (a == b ? 0 : 1) }
        let result: Int
        switch c.target {
        case .value(let v): result = Bytes.compare(kv.value, v)
        case .create(let r): result = cmp(kv.createRevision, r)
        case .mod(let r): result = cmp(kv.modRevision, r)
        case .version(let v): result = cmp(kv.version, v)
        case .lease(let l): result = cmp(kv.lease, l)
        }
        switch c.result {
        case .equal: return result == 0
        case .notEqual: return result != 0
        case .greater: return result > 0
        case .less: return result < 0
        }
    }

    /// etcd's `checkTxn`: range revisions and ignore_value/ignore_lease keys of the chosen
    /// branches, against the state before the txn, and (etcd's `checkRequestPut`) no put of
    /// them attaches a lease of `refusedLeases`. Returns the nested txns consumed.
    func checkTxn(
        _ t: TxnRequest, path: ArraySlice<Bool>, current: Int64, refusedLeases: Set<Int64> = [], _ rtx: any MVCCReadTxn
    ) throws -> Int {
        var path = path
        var consumed = 0
        for op in (path.first! ? t.success : t.failure) {
            switch op {
            case .range(let r):
                if r.revision > current { throw MVCCError.futureRevision }
                if r.revision > 0 && r.revision < compactedRevision { throw MVCCError.compacted }
            case .put(let p):
                if p.ignoreValue || p.ignoreLease {
                    let rr = try rangeKeys(p.key, nil, requested: 0, current: current, limit: 0, countOnly: false, rtx)
                    if rr.kvs.isEmpty { throw MVCCError.keyNotFound }
                }
                if !contains(p.key) { throw MVCCError.keyOutsideRange }
                if p.lease != 0, !p.ignoreLease, refusedLeases.contains(p.lease) { throw MVCCError.leaseNotFound }
            case .txn(let nested):
                let n = try checkTxn(nested, path: path.dropFirst(), current: current, refusedLeases: refusedLeases, rtx)
                consumed += n + 1
                path = path.dropFirst(n + 1)
            case .deleteRange, .empty:
                break
            }
        }
        return consumed
    }

    /// etcd's `executeTxn`: runs the chosen branch; returns the response and the nested
    /// txns consumed from `path`.
    mutating func executeTxn(
        _ t: TxnRequest, path: ArraySlice<Bool>, _ ctx: inout WriteContext, _ rtx: any MVCCReadTxn
    ) throws -> (TxnResponse, Int) {
        var path = path
        let succeeded = path.first!
        var responses: [ResponseOp] = []
        var consumed = 0
        for op in (succeeded ? t.success : t.failure) {
            switch op {
            case .range(let r):
                responses.append(.range(try executeRange(r, current: ctx.readRevision, rtx)))
            case .put(let p):
                responses.append(.put(try executePut(p, &ctx, rtx)))
            case .deleteRange(let d):
                responses.append(.deleteRange(try executeDeleteRange(d, &ctx, rtx)))
            case .txn(let nested):
                let (resp, n) = try executeTxn(nested, path: path.dropFirst(), &ctx, rtx)
                responses.append(.txn(resp))
                consumed += n + 1
                path = path.dropFirst(n + 1)
            case .empty:
                break
            }
        }
        // etcd leaves nested txn headers empty; the caller sets the top-level revision.
        return (TxnResponse(revision: 0, succeeded: succeeded, responses: responses), consumed)
    }
}
