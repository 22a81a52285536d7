import Base

/// What remains of an index compaction: a walk over every key from a position, or a
/// sorted list of keys.
enum CompactionWork {
    case allFrom([UInt8])
    case keys([[UInt8]], next: Int)
}

/// Everything one range's MVCC store holds in memory: bounds, revisions, the B-tree index
/// and the uncommitted batch. Owned by `MVCCStore` behind its mutex; not thread-safe itself.
struct RangeState {
    let rangeID: RangeID
    /// The range's user-key bounds `[start, end)`; `end == nil` is the end of the keyspace.
    var start: [UInt8]
    var end: [UInt8]?
    var descriptor: [UInt8]
    /// Opaque per-range record of revoked leases, owned by the Node layer.
    var revokedLeases: [UInt8] = []
    /// Raft index of the last applied command included in `pending` or the file.
    var appliedIndex: UInt64
    /// The highest main revision applied (writes must exceed it).
    var currentRevision: Int64
    /// Reads below this revision answer `compacted` (0: never compacted).
    var compactedRevision: Int64
    var index: BTree<KeyIndex>
    var pending = PendingWrites()
    /// The keys an index compaction still has to visit, if one is in progress.
    var compaction: CompactionWork?
    /// Keys put or deleted since the last compaction was scheduled, and keys a compaction
    /// left with more than one revision: only they can hold revisions a new compaction
    /// removes (every other key is down to a single live revision). `touchedAll` stands for
    /// "every key" (after open without compaction, split or merge, when this is not known).
    var touched = Set<[UInt8]>()
    var touchedAll = true
    /// Set once the range was merged away or dropped; every operation then fails.
    var retired = false

    init(
        rangeID: RangeID, start: [UInt8], end: [UInt8]?, descriptor: [UInt8], appliedIndex: UInt64,
        currentRevision: Int64, compactedRevision: Int64, index: BTree<KeyIndex>
    ) {
        self.rangeID = rangeID
        self.start = start
        self.end = end
        self.descriptor = descriptor
        self.appliedIndex = appliedIndex
        self.currentRevision = currentRevision
        self.compactedRevision = compactedRevision
        self.index = index
    }

    func contains(_ key: [UInt8]) -> Bool { Bytes.within(key, start: start, end: end) }

    // MARK: record access

    /// The raw record of `key` at `rev`, from the pending batch or the file.
    func withRecord<R>(
        _ key: [UInt8], _ rev: Revision, _ rtx: any MVCCReadTxn, _ body: (UnsafeRawBufferPointer?) throws -> R
    ) throws -> R {
        if !pending.records.isEmpty, let p = pending.records[RecordKey.make(key, rev)] {
            switch p {
            case .put(let bytes): return try bytes.withUnsafeBytes { try body($0) }
            case .delete: return try body(nil)
            }
        }
        return try RecordKey.withEncoded(key, rev) { rk in try rtx.withValue(.records, rawKey: rk, body) }
    }

    /// The KeyValue stored for `key` at `rev` (nil when missing or a tombstone).
    func keyValue(_ key: [UInt8], _ rev: Revision, _ rtx: any MVCCReadTxn, withValue: Bool = true) throws -> KeyValue? {
        try withRecord(key, rev, rtx) { raw in
            guard let raw else { return nil }
            return RecordValue.decodePut(key: key, rev: rev, raw, withValue: withValue)
        }
    }

    // MARK: index queries

    /// Visits the keys of an etcd range: `end == nil` is the single key, an empty `end` is
    /// every key `>= key`, otherwise `[key, end)`.
    func visitIndex(_ key: [UInt8], _ end: [UInt8]?, _ body: (KeyIndex) throws -> Bool) rethrows {
        guard let end else {
            if let ki = index.find(key) { _ = try body(ki) }
            return
        }
        if end.isEmpty {
            try index.forEach(from: key, to: nil, body)
        } else if Bytes.compare(end, key) > 0 {
            try index.forEach(from: key, to: end, body)
        }
    }

    /// As `visitIndex`, with each `KeyIndex` in place: a pointer into the tree, valid until
    /// the index is next modified (no copy of the entry; scans touch no heap buffer of a
    /// key's history on the fast path).
    func visitIndexInPlace(_ key: [UInt8], _ end: [UInt8]?, _ body: (UnsafePointer<KeyIndex>) throws -> Bool) rethrows {
        guard let end else {
            try index.forEachInPlace(from: key, to: key + [0], body)  // exactly `key`
            return
        }
        if end.isEmpty {
            try index.forEachInPlace(from: key, to: nil, body)
        } else if Bytes.compare(end, key) > 0 {
            try index.forEachInPlace(from: key, to: end, body)
        }
    }

    /// etcd's `mkGteRange` + "no range end": maps a request's range_end to `visitIndex` form.
    static func indexEnd(_ rangeEnd: [UInt8]) -> [UInt8]? {
        if rangeEnd.isEmpty { return nil }
        if rangeEnd == [0] { return [] }
        return rangeEnd
    }
}
