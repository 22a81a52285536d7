/// The watchable history: events of a key range from a revision on, in revision order,
/// read from the node's revision-ordered history bucket (plus the uncommitted batch) and
/// filtered to this range. Cost: the history entries of the node in the revision window
/// scanned (see docs/mvcc-format.md, "History").
extension MVCCStore {
    /// Events of `[key, rangeEnd)` (watch semantics: empty `rangeEnd` is the key alone,
    /// `[0]` every key `>= key`, an empty key is `[0]`) with revision `>= fromRevision`.
    /// At most about `limit` events: a revision is never split, so the last revision may
    /// add a few more. Answers `.compacted` when `fromRevision` is below the compacted
    /// revision (etcd cancels the watch with `compact_revision`).
    public func events(
        key: [UInt8], rangeEnd: [UInt8] = [], fromRevision: Int64, prevKV: Bool = false, limit: Int = 1000
    ) throws -> EventsResult {
        try withState { s, rtx in
            if fromRevision < s.compactedRevision { return .compacted(compactRevision: s.compactedRevision) }
            let from = max(fromRevision, 1)
            let wkey = key.isEmpty ? [0] : key
            let interval = RequestValidation.Interval(
                start: wkey, end: rangeEnd.isEmpty ? nil : (rangeEnd == [0] ? [] : rangeEnd))
            var events: [WatchEvent] = []
            var lastMain: Int64 = 0
            var full = false
            func consider(_ rev: Revision, _ k: [UInt8]) throws -> Bool {
                if full && rev.main != lastMain { return false }
                guard interval.contains(k), s.contains(k) else { return true }
                if let e = try s.event(k, rev, prevKV: prevKV, rtx) {
                    events.append(e)
                    lastMain = rev.main
                    if events.count >= limit { full = true }
                }
                return true
            }
            var scanned = true
            try rtx.scan(.history, from: Revision(main: from).encoded, to: nil, reverse: false) { k, _ in
                guard let (rev, userKey) = HistoryKey.decode(k) else { return true }
                scanned = try consider(rev, userKey)
                return scanned
            }
            if scanned {
                for (rev, k) in s.pending.history where rev.main >= from {
                    if !(try consider(rev, k)) { break }
                }
            }
            let next = full ? lastMain + 1 : s.currentRevision + 1
            return .events(events, nextRevision: max(next, from))
        }
    }
}

extension RangeState {
    /// The event recorded at `rev` for `key`; nil when its record is gone (compacted).
    func event(_ key: [UInt8], _ rev: Revision, prevKV: Bool, _ rtx: any MVCCReadTxn) throws -> WatchEvent? {
        let found: (isTombstone: Bool, kv: KeyValue)? = try withRecord(key, rev, rtx) { raw in
            guard let raw else { return nil }
            if RecordValue.isTombstone(raw) { return (true, KeyValue(key: key, modRevision: rev.main)) }
            guard let kv = RecordValue.decodePut(key: key, rev: rev, raw) else { return nil }
            return (false, kv)
        }
        guard let found else { return nil }
        var prev: KeyValue?
        if prevKV, let ki = index.find(key), let p = ki.previous(before: rev) {
            prev = try keyValue(key, p, rtx)
        }
        return WatchEvent(kind: found.isTombstone ? .delete : .put, kv: found.kv, prevKV: prev, sub: rev.sub)
    }
}
