/// Stateless request validation as etcd's v3rpc `key.go` (checkRangeRequest,
/// checkPutRequest, checkDeleteRequest, checkTxnRequest, checkIntervals). Runs before the
/// store is touched; owns nothing.
public enum RequestValidation {
    /// etcd's default `--max-txn-ops`.
    public static let maxTxnOps = 128

    public static func check(_ r: RangeRequest) throws(MVCCError) {
        if r.key.isEmpty { throw .emptyKey }
        if case .unrecognized = r.sortOrder { throw .invalidSortOption }
        if case .unrecognized = r.sortTarget { throw .invalidSortOption }
    }

    /// The largest encoded record key (escaped user key + terminator + revision) the node
    /// file stores: PageStore's key limit with its default 4 KiB pages. A fixed constant, not
    /// the file's, so every replica accepts and rejects the same puts.
    public static let maxRecordKeyBytes = 4096 / 4 - 32

    /// The largest user key a put may write: `maxRecordKeyBytes` less the record key's
    /// 18 bytes of terminator and revision, less one byte per 0x00 byte of the key (escaped).
    public static func maxKeySize(for key: [UInt8]) -> Int {
        var zeros = 0
        for b in key where b == 0 { zeros += 1 }
        return maxRecordKeyBytes - 2 - Revision.encodedCount - zeros
    }

    public static func check(_ r: PutRequest) throws(MVCCError) {
        if r.key.isEmpty { throw .emptyKey }
        if r.key.count > maxRecordKeyBytes / 2 - 2 - Revision.encodedCount {  // may need escaping
            let limit = maxKeySize(for: r.key)
            if r.key.count > limit { throw .keyTooLarge(size: r.key.count, max: limit) }
        }
        if r.ignoreValue && !r.value.isEmpty { throw .valueProvided }
        if r.ignoreLease && r.lease != 0 { throw .leaseProvided }
    }

    public static func check(_ r: DeleteRangeRequest) throws(MVCCError) {
        if r.key.isEmpty { throw .emptyKey }
    }

    /// checkTxnRequest, then the put/delete overlap check of both branches.
    public static func check(_ r: TxnRequest, maxTxnOps: Int = maxTxnOps) throws(MVCCError) {
        try checkTxnRequest(r, maxTxnOps: maxTxnOps)
        _ = try checkIntervals(r.success)
        _ = try checkIntervals(r.failure)
    }

    static func checkTxnRequest(_ r: TxnRequest, maxTxnOps: Int) throws(MVCCError) {
        let opc = max(r.compare.count, r.success.count, r.failure.count)
        if opc > maxTxnOps { throw .tooManyOperations }
        for c in r.compare where c.key.isEmpty { throw .emptyKey }
        for op in r.success + r.failure { try checkRequestOp(op, maxTxnOps: maxTxnOps - opc) }
    }

    static func checkRequestOp(_ op: RequestOp, maxTxnOps: Int) throws(MVCCError) {
        switch op {
        case .range(let r): try check(r)
        case .put(let p): try check(p)
        case .deleteRange(let d): try check(d)
        case .txn(let t): try checkTxnRequest(t, maxTxnOps: maxTxnOps)
        case .empty: throw .keyNotFound
        }
    }

    /// A deleted interval `[start, end)`; `end == nil` is a single key, `end == []` no end.
    struct Interval {
        var start: [UInt8]
        var end: [UInt8]?

        func contains(_ key: [UInt8]) -> Bool {
            guard let end else { return key == start }
            if Bytes.compare(key, start) < 0 { return false }
            return end.isEmpty || Bytes.compare(key, end) < 0
        }
    }

    /// etcd's `checkIntervals`: the puts of one branch (including nested txns) may not
    /// repeat a key or fall in a deleted range; the two branches of a nested txn may overlap.
    static func checkIntervals(_ reqs: [RequestOp]) throws(MVCCError) -> (puts: Set<[UInt8]>, dels: [Interval]) {
        var dels: [Interval] = []
        for case .deleteRange(let d) in reqs {
            dels.append(Interval(start: d.key, end: d.rangeEnd.isEmpty ? nil : (d.rangeEnd == [0] ? [] : d.rangeEnd)))
        }
        func deleted(_ k: [UInt8]) -> Bool { dels.contains { $0.contains(k) } }
        var puts = Set<[UInt8]>()
        for case .txn(let t) in reqs {
            let (putsThen, delsThen) = try checkIntervals(t.success)
            let (putsElse, delsElse) = try checkIntervals(t.failure)
            for k in putsThen {
                if puts.contains(k) || deleted(k) { throw .duplicateKey }
                puts.insert(k)
            }
            for k in putsElse {
                if puts.contains(k) && !putsThen.contains(k) { throw .duplicateKey }
                if deleted(k) { throw .duplicateKey }
                puts.insert(k)
            }
            dels += delsThen
            dels += delsElse
        }
        for case .put(let p) in reqs {
            if puts.contains(p.key) || deleted(p.key) { throw .duplicateKey }
            puts.insert(p.key)
        }
        return (puts, dels)
    }
}
