public import MVCC

/// The key spans a txn touches: its compares and every op of both branches, nested txns
/// included (the router runs a txn only when all of them lie in one range). Pure.
public enum TxnFootprint {
    public static func spans(of t: TxnRequest) -> [KeySpan] {
        var out: [KeySpan] = []
        collect(t, into: &out)
        return out
    }

    static func collect(_ t: TxnRequest, into out: inout [KeySpan]) {
        for c in t.compare { add(KeySpan(key: c.key, rangeEnd: c.rangeEnd), &out) }
        for op in t.success + t.failure {
            switch op {
            case .range(let r): add(KeySpan(key: r.key, rangeEnd: r.rangeEnd), &out)
            case .put(let p): add(.point(p.key), &out)
            case .deleteRange(let d): add(KeySpan(key: d.key, rangeEnd: d.rangeEnd), &out)
            case .txn(let inner): collect(inner, into: &out)
            case .empty: break
            }
        }
    }

    /// Empty spans touch no key; they are dropped (the txn still needs one range).
    static func add(_ s: KeySpan, _ out: inout [KeySpan]) {
        if !s.isEmpty { out.append(s) }
    }

    /// The leases of every put in both branches, nested txns included.
    public static func putLeases(of t: TxnRequest) -> [Int64] {
        var out: [Int64] = []
        for op in t.success + t.failure {
            switch op {
            case .put(let p) where p.lease != 0: out.append(p.lease)
            case .txn(let inner): out += putLeases(of: inner)
            default: break
            }
        }
        return out
    }
}
