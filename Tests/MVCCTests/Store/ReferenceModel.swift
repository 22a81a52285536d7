import Base

@testable import MVCC

/// The test oracle: etcd's KV semantics over the simplest possible state — a dictionary
/// from key to its list of versions — written independently of the store's index.
struct ReferenceModel {
    struct Version {
        var rev: Revision
        var value: [UInt8]
        var lease: Int64
        var tombstone: Bool
    }

    var versions: [[UInt8]: [Version]] = [:]
    var current: Int64 = 0
    var compacted: Int64 = 0

    func get(_ key: [UInt8], at rev: Int64) -> KeyValue? {
        guard let vs = versions[key], let i = vs.lastIndex(where: { $0.rev.main <= rev }), !vs[i].tombstone else {
            return nil
        }
        var start = i
        while start > 0 && !vs[start - 1].tombstone { start -= 1 }
        return KeyValue(
            key: key, createRevision: vs[start].rev.main, modRevision: vs[i].rev.main, version: Int64(i - start + 1),
            value: vs[i].value, lease: vs[i].lease)
    }

    func inRange(_ k: [UInt8], _ key: [UInt8], _ end: [UInt8]) -> Bool {
        if end.isEmpty { return k == key }
        if end == [0] { return Bytes.compare(k, key) >= 0 }
        return Bytes.compare(k, key) >= 0 && Bytes.compare(k, end) < 0
    }

    /// All live keys of `[key, end)` at `rev` restricted to `bounds`, in key order.
    func live(_ key: [UInt8], _ end: [UInt8], at rev: Int64, bounds: ([UInt8], [UInt8]?)) -> [KeyValue] {
        versions.keys
            .filter { inRange($0, key, end) && Bytes.within($0, start: bounds.0, end: bounds.1) }
            .sorted(by: Bytes.less)
            .compactMap { get($0, at: rev) }
    }

    func range(_ r: RangeRequest, readRev: Int64, bounds: ([UInt8], [UInt8]?)) throws(MVCCError) -> RangeResponse {
        try RequestValidation.check(r)
        if r.revision > readRev { throw .futureRevision }
        let rev = r.revision <= 0 ? readRev : r.revision
        if rev < compacted { throw .compacted }
        var kvs = live(r.key, r.rangeEnd, at: rev, bounds: bounds)
        let count = Int64(kvs.count)
        if r.countOnly { return RangeResponse(revision: readRev, kvs: [], more: false, count: count) }
        // etcd quirk: without an explicit sort order or filters, only limit+1 keys (in key
        // order) are fetched before sorting by a non-key target.
        if r.limit > 0 && r.sortOrder == .none && r.minModRevision == 0 && r.maxModRevision == 0
            && r.minCreateRevision == 0 && r.maxCreateRevision == 0
        {
            kvs = Array(kvs.prefix(Int(r.limit) + 1))
        }
        kvs = kvs.filter { kv in
            (r.maxModRevision == 0 || kv.modRevision <= r.maxModRevision)
                && (r.minModRevision == 0 || kv.modRevision >= r.minModRevision)
                && (r.maxCreateRevision == 0 || kv.createRevision <= r.maxCreateRevision)
                && (r.minCreateRevision == 0 || kv.createRevision >= r.minCreateRevision)
        }
        let descending = r.sortOrder == .descend
        if r.sortOrder != .none || r.sortTarget != .key {
            func key(_ kv: KeyValue) -> [Int64] {
                switch r.sortTarget {
                case .version: [kv.version]
                case .create: [kv.createRevision]
                case .mod: [kv.modRevision]
                default: []
                }
            }
            kvs.sort { a, c in
                var o: Int
                if r.sortTarget == .value {
                    o = Bytes.compare(a.value, c.value)
                } else {
                    let ka = key(a), kc = key(c)
                    o = ka == kc ? 0 : (ka.lexicographicallyPrecedes(kc) ? -1 : 1)
                }
                if o == 0 { o = Bytes.compare(a.key, c.key) }
                return descending ? o > 0 : o < 0
            }
        }
        var more = false
        if r.limit > 0 && kvs.count > Int(r.limit) {
            kvs = Array(kvs.prefix(Int(r.limit)))
            more = true
        }
        if r.keysOnly { kvs = kvs.map { var k = $0; k.value = []; return k } }
        return RangeResponse(revision: readRev, kvs: kvs, more: more, count: count)
    }

    mutating func append(_ key: [UInt8], _ v: Version) { versions[key, default: []].append(v) }

    /// Applies a write command at `main`; returns the response or throws like etcd.
    mutating func put(_ p: PutRequest, main: Int64) throws(MVCCError) -> PutResponse {
        try RequestValidation.check(p)
        var sub: Int64 = 0
        let r = try putOp(p, main: main, previous: current, sub: &sub)
        current = main
        return PutResponse(revision: main, prevKV: r.prevKV)
    }

    mutating func putOp(_ p: PutRequest, main: Int64, previous: Int64, sub: inout Int64) throws(MVCCError) -> PutResponse {
        let readRev = sub > 0 ? main : previous
        let prev = get(p.key, at: readRev)
        if (p.ignoreValue || p.ignoreLease) && prev == nil { throw .keyNotFound }
        let value = p.ignoreValue ? prev!.value : p.value
        let lease = p.ignoreLease ? prev!.lease : p.lease
        append(p.key, Version(rev: Revision(main: main, sub: sub), value: value, lease: lease, tombstone: false))
        sub += 1
        return PutResponse(revision: main, prevKV: p.prevKV ? prev : nil)
    }

    mutating func deleteRange(_ d: DeleteRangeRequest, main: Int64, bounds: ([UInt8], [UInt8]?)) throws(MVCCError) -> DeleteRangeResponse {
        try RequestValidation.check(d)
        var sub: Int64 = 0
        var r = deleteOp(d, main: main, previous: current, sub: &sub, bounds: bounds)
        current = main
        r.revision = main
        return r
    }

    mutating func deleteOp(
        _ d: DeleteRangeRequest, main: Int64, previous: Int64, sub: inout Int64, bounds: ([UInt8], [UInt8]?)
    ) -> DeleteRangeResponse {
        let readRev = sub > 0 ? main : previous
        let doomed = live(d.key, d.rangeEnd, at: readRev, bounds: bounds)
        for kv in doomed {
            append(kv.key, Version(rev: Revision(main: main, sub: sub), value: [], lease: 0, tombstone: true))
            sub += 1
        }
        let revision = (doomed.isEmpty && sub == 0) ? previous : main
        return DeleteRangeResponse(revision: revision, deleted: Int64(doomed.count), prevKVs: d.prevKV ? doomed : [])
    }

    func compare(_ c: Compare, at rev: Int64, bounds: ([UInt8], [UInt8]?)) -> Bool {
        let kvs = live(c.key, c.rangeEnd, at: rev, bounds: bounds)
        if kvs.isEmpty {
            if case .value = c.target { return false }
            return RangeState.compareKV(c, KeyValue(key: []))
        }
        return kvs.allSatisfy { RangeState.compareKV(c, $0) }
    }

    /// Pre-checks of the chosen branches against the state before the txn.
    func check(_ t: TxnRequest, bounds: ([UInt8], [UInt8]?)) throws(MVCCError) {
        let ok = t.compare.allSatisfy { compare($0, at: current, bounds: bounds) }
        for op in ok ? t.success : t.failure {
            switch op {
            case .range(let r):
                if r.revision > current { throw .futureRevision }
                if r.revision > 0 && r.revision < compacted { throw .compacted }
            case .put(let p):
                if (p.ignoreValue || p.ignoreLease) && get(p.key, at: current) == nil { throw .keyNotFound }
            case .txn(let n): try check(n, bounds: bounds)
            default: break
            }
        }
    }

    mutating func txn(_ t: TxnRequest, main: Int64?, bounds: ([UInt8], [UInt8]?)) throws(MVCCError) -> TxnResponse {
        try RequestValidation.check(t)
        try check(t, bounds: bounds)
        let previous = current
        var sub: Int64 = 0
        var resp = try runTxn(t, main: main ?? previous, previous: previous, sub: &sub, bounds: bounds)
        if let main { current = main }
        resp.revision = main ?? previous
        return resp
    }

    mutating func runTxn(
        _ t: TxnRequest, main: Int64, previous: Int64, sub: inout Int64, bounds: ([UInt8], [UInt8]?)
    ) throws(MVCCError) -> TxnResponse {
        let ok = t.compare.allSatisfy { compare($0, at: previous, bounds: bounds) }
        var responses: [ResponseOp] = []
        for op in ok ? t.success : t.failure {
            switch op {
            case .range(let r):
                responses.append(.range(try range(r, readRev: sub > 0 ? main : previous, bounds: bounds)))
            case .put(let p):
                responses.append(.put(try putOp(p, main: main, previous: previous, sub: &sub)))
            case .deleteRange(let d):
                responses.append(.deleteRange(deleteOp(d, main: main, previous: previous, sub: &sub, bounds: bounds)))
            case .txn(let n):
                responses.append(.txn(try runTxn(n, main: main, previous: previous, sub: &sub, bounds: bounds)))
            case .empty:
                break
            }
        }
        return TxnResponse(revision: 0, succeeded: ok, responses: responses)
    }

    /// Events with main revision >= `from` in `bounds`, in (revision, key) order, without
    /// tombstones at exactly the compacted revision (etcd's compaction removes them).
    func events(from: Int64, bounds: ([UInt8], [UInt8]?)) -> [(WatchEvent.Kind, [UInt8], Int64, [UInt8])] {
        var out: [(Revision, [UInt8], WatchEvent.Kind, [UInt8])] = []
        for (k, vs) in versions where Bytes.within(k, start: bounds.0, end: bounds.1) {
            for v in vs where v.rev.main >= from {
                if v.tombstone && compacted > 0 && v.rev.main == compacted { continue }
                out.append((v.rev, k, v.tombstone ? .delete : .put, v.value))
            }
        }
        out.sort { a, c in a.0 != c.0 ? a.0 < c.0 : Bytes.less(a.1, c.1) }
        return out.map { ($0.2, $0.1, $0.0.main, $0.3) }
    }

    /// Keys whose live latest version is attached to `lease`, within bounds.
    func keys(attachedTo lease: Int64, bounds: ([UInt8], [UInt8]?)) -> [[UInt8]] {
        live([0], [0], at: current, bounds: bounds).filter { $0.lease == lease }.map(\.key)
    }
}
