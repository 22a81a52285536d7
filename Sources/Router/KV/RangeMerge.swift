public import MVCC

/// etcd's Range semantics over several ranges: how to ask each range for its part
/// (`subRequest`) and how to merge the parts (`merge`) so the answer equals one store's
/// answer at the same revision. Pure functions, no state.
///
/// Why it is exact: every range applies the revision filters itself and answers its first
/// `limit` keys in the requested order (MVCC sorts and filters before cutting), so the
/// global first `limit` are among the parts' answers; `count` is the number of keys in the
/// range before filters (etcd's), so it sums; `more` is "some range had more, or the parts
/// together exceed the limit".
public enum RangeMerge {
    /// etcd's effective order: a non-key target without an order sorts ascending; key
    /// ascending is the natural key order.
    enum Order: Equatable {
        case keyAscending, keyDescending
        case byTarget(RangeRequest.SortTarget, descending: Bool)
    }

    static func order(of r: RangeRequest) -> Order {
        switch (r.sortTarget, r.sortOrder) {
        case (.key, .descend): return .keyDescending
        case (.key, _): return .keyAscending
        case (let t, .descend): return .byTarget(t, descending: true)
        case (let t, _): return .byTarget(t, descending: false)
        }
    }

    /// etcd's quirk: without a sort order and without revision filters, a limit applies
    /// BEFORE sorting by a non-key target (the first `limit + 1` keys in key order are
    /// fetched, then sorted, then cut). The parts then answer plain key order.
    static func limitsBeforeSort(_ r: RangeRequest) -> Bool {
        r.limit > 0 && r.sortOrder == .none && r.sortTarget != .key && r.minModRevision == 0
            && r.maxModRevision == 0 && r.minCreateRevision == 0 && r.maxCreateRevision == 0
    }

    /// The request one range answers for its part `[key, rangeEnd)` of a request split
    /// over several ranges, at `revision`. Values are kept when the merge sorts by value.
    public static func subRequest(_ r: RangeRequest, key: [UInt8], rangeEnd: [UInt8], revision: Int64) -> RangeRequest {
        var sub = r
        sub.key = key
        sub.rangeEnd = rangeEnd
        sub.revision = revision
        if r.keysOnly && r.sortTarget == .value && !r.countOnly { sub.keysOnly = false }
        if limitsBeforeSort(r) {
            sub.sortTarget = .key
            sub.limit = r.limit + 1
        }
        return sub
    }

    /// Merges the parts' answers (in key order of their spans) into one answer at `revision`.
    public static func merge(_ r: RangeRequest, parts: [RangeResponse], revision: Int64) -> RangeResponse {
        let count = parts.reduce(Int64(0)) { $0 + $1.count }
        if r.countOnly { return RangeResponse(revision: revision, kvs: [], more: false, count: count) }
        var more = parts.contains { $0.more }
        var kvs: [KeyValue]
        if limitsBeforeSort(r) {
            kvs = Array(parts.flatMap(\.kvs).prefix(Int(r.limit) + 1))
            more = kvs.count > Int(r.limit)
            sort(&kvs, target: r.sortTarget, descending: false)
            kvs = Array(kvs.prefix(Int(r.limit)))
            if r.keysOnly { for i in kvs.indices { kvs[i].value = [] } }
            return RangeResponse(revision: revision, kvs: kvs, more: more, count: count)
        }
        switch order(of: r) {
        case .keyAscending:
            kvs = parts.flatMap(\.kvs)
        case .keyDescending:
            kvs = parts.reversed().flatMap(\.kvs)
        case .byTarget(let target, let descending):
            kvs = parts.flatMap(\.kvs)
            sort(&kvs, target: target, descending: descending)
        }
        if r.limit > 0 && kvs.count > Int(r.limit) {
            kvs.removeSubrange(Int(r.limit)...)
            more = true
        }
        if r.keysOnly { for i in kvs.indices { kvs[i].value = [] } }
        return RangeResponse(revision: revision, kvs: kvs, more: more, count: count)
    }

    /// MVCC's order: by target, ties by key; descending reverses both.
    static func sort(_ kvs: inout [KeyValue], target: RangeRequest.SortTarget, descending: Bool) {
        func cmp(_ a: KeyValue, _ b: KeyValue) -> Int {
            func c<V: Comparable>(_ x: V, _ y: V) -> Int { x < y ? -1 : (x == y ? 0 : 1) }
            func bytes(_ x: [UInt8], _ y: [UInt8]) -> Int {
                x == y ? 0 : (x.lexicographicallyPrecedes(y) ? -1 : 1)
            }
            switch target {
            case .key: return bytes(a.key, b.key)
            case .version: return c(a.version, b.version)
            case .create: return c(a.createRevision, b.createRevision)
            case .mod: return c(a.modRevision, b.modRevision)
            case .value: return bytes(a.value, b.value)
            case .unrecognized: return 0
            }
        }
        kvs.sort { a, b in
            var r = cmp(a, b)
            if r == 0 { r = a.key == b.key ? 0 : (a.key.lexicographicallyPrecedes(b.key) ? -1 : 1) }
            return descending ? r > 0 : r < 0
        }
    }
}
