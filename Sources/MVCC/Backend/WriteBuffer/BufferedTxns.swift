/// The `records` bucket as seen through a write buffer: the union of `mvcc.records` and the
/// buffered records of `mvcc.buffer` (`BufferKey`), each record once. A record is looked up
/// in the buffer first, then in the tree: records only ever move buffer → tree (a flush
/// commits the tree copy before a later commit deletes the buffered one, and both copies are
/// identical: a (key, revision) record never changes), so even two separate snapshots, the
/// buffer's first, cannot miss a record. Every other bucket passes through.
struct BufferedReadTxn: MVCCReadTxn {
    let inner: any MVCCReadTxn
    /// No buffered record of this view's ranges has a main revision below this (read before
    /// the snapshot was taken): lookups of older records skip the buffer.
    let lowestBuffered: Int64
    /// Which record keys may be buffered (read before the snapshot was taken; nil: any).
    var filters: BufferedKeyFilters? = nil

    func get(_ bucket: MVCCBucket, _ key: [UInt8]) throws -> [UInt8]? {
        try withValue(bucket, key) { $0.map { [UInt8]($0) } }
    }

    func withValue<R>(_ bucket: MVCCBucket, _ key: [UInt8], _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        try key.withUnsafeBytes { try withValue(bucket, rawKey: $0, body) }
    }

    func withValue<R>(
        _ bucket: MVCCBucket, rawKey: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> R
    ) throws -> R {
        guard bucket == .records else { return try inner.withValue(bucket, rawKey: rawKey, body) }
        return try BufferedRecords.lookup(TxnLookup(txn: inner), rawKey, lowestBuffered: lowestBuffered, filters: filters, body)
    }

    func scan(
        _ bucket: MVCCBucket, from: [UInt8], to: [UInt8]?, reverse: Bool,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        guard bucket == .records else { return try inner.scan(bucket, from: from, to: to, reverse: reverse, body) }
        try BufferedRecords.mergedScan(inner, from: from, to: to, reverse: reverse, body)
    }

    func scanStored(
        _ bucket: MVCCBucket, from: [UInt8], to: [UInt8]?, reverse: Bool,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        try inner.scan(bucket, from: from, to: to, reverse: reverse, body)
    }
}

/// The write side: record puts go to the buffer (unless `buffersPuts` is off or the put is
/// part of an ordered batch); record deletes (compaction) become **compaction markers** in
/// the buffer — an empty value under the record's buffer key, replacing a buffered copy —
/// that the flush cycle taking them applies to the tree in the same key-ordered pass as the
/// puts, so compaction rewrites no tree leaf of its own (session 14). A record the current
/// cycle already copied but has not trimmed is deleted from both at once instead (a marker
/// under its buffer key would be trimmed unapplied).
final class BufferedWriteTxn: MVCCWriteTxn {
    let inner: any MVCCWriteTxn
    let buffersPuts: Bool
    /// As `BufferedReadTxn.lowestBuffered`, lowered by this transaction's buffered puts.
    private(set) var lowestBuffered: Int64
    /// Record keys this transaction put into the buffer (records and markers), in order.
    private(set) var bufferedKeys: [[UInt8]] = []
    /// The current cycle's records already copied into the tree, in key order, and a filter
    /// of the whole window (nil between cycles).
    let copiedWindow: ArraySlice<[UInt8]>
    let windowFilter: RecordKeyFilter?

    init(
        inner: any MVCCWriteTxn, buffersPuts: Bool, lowestBuffered: Int64,
        copiedWindow: ArraySlice<[UInt8]> = [], windowFilter: RecordKeyFilter? = nil
    ) {
        self.inner = inner
        self.buffersPuts = buffersPuts
        self.lowestBuffered = lowestBuffered
        self.copiedWindow = copiedWindow
        self.windowFilter = windowFilter
    }

    /// Whether record key `rk` is one the current cycle copied and has not trimmed yet.
    func inCopiedWindow(_ rk: [UInt8]) -> Bool {
        guard !copiedWindow.isEmpty, let windowFilter, rk.withUnsafeBytes({ windowFilter.mayContain($0) }) else { return false }
        var lo = copiedWindow.startIndex, hi = copiedWindow.endIndex
        while lo < hi {
            let mid = (lo + hi) >> 1
            let c = Bytes.compare(copiedWindow[mid], rk)
            if c == 0 { return true }
            if c < 0 { lo = mid + 1 } else { hi = mid }
        }
        return false
    }

    private var reader: BufferedReadTxn { BufferedReadTxn(inner: inner, lowestBuffered: lowestBuffered) }

    func get(_ bucket: MVCCBucket, _ key: [UInt8]) throws -> [UInt8]? { try reader.get(bucket, key) }

    func withValue<R>(_ bucket: MVCCBucket, _ key: [UInt8], _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        try reader.withValue(bucket, key, body)
    }

    func withValue<R>(
        _ bucket: MVCCBucket, rawKey: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> R
    ) throws -> R {
        try reader.withValue(bucket, rawKey: rawKey, body)
    }

    func scan(
        _ bucket: MVCCBucket, from: [UInt8], to: [UInt8]?, reverse: Bool,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        try reader.scan(bucket, from: from, to: to, reverse: reverse, body)
    }

    func scanStored(
        _ bucket: MVCCBucket, from: [UInt8], to: [UInt8]?, reverse: Bool,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        try inner.scan(bucket, from: from, to: to, reverse: reverse, body)
    }

    func put(_ bucket: MVCCBucket, _ key: [UInt8], _ value: [UInt8]) throws {
        guard bucket == .records, buffersPuts else { return try inner.put(bucket, key, value) }
        let bk = BufferKey.make(recordKey: key)
        lowestBuffered = min(lowestBuffered, bk.withUnsafeBytes { BufferKey.mainRevision(ofBufferKey: $0) })
        try inner.put(.buffer, bk, value)
        bufferedKeys.append(key)
    }

    func putInOrder(_ bucket: MVCCBucket, _ key: [UInt8], _ value: [UInt8]) throws {
        if bucket == .records, lowestBuffered != Int64.max {
            // A buffered copy would shadow this one: drop it (callers delete the span first,
            // so this finds nothing in practice).
            try inner.delete(.buffer, BufferKey.make(recordKey: key))
        }
        try inner.put(bucket, key, value)
    }

    func delete(_ bucket: MVCCBucket, _ key: [UInt8]) throws {
        guard bucket == .records else { return try inner.delete(bucket, key) }
        let main = key.withUnsafeBytes { BufferKey.mainRevision(ofRecordKey: $0) }
        if buffersPuts && !inCopiedWindow(key) {
            lowestBuffered = min(lowestBuffered, main)
            try inner.put(.buffer, BufferKey.make(recordKey: key), BufferedRecords.compactionMarker)
            bufferedKeys.append(key)
            return
        }
        if main >= lowestBuffered { try inner.delete(.buffer, BufferKey.make(recordKey: key)) }
        try inner.delete(.records, key)
    }

    func deleteRange(_ bucket: MVCCBucket, from: [UInt8], to: [UInt8]?) throws -> Int {
        guard bucket == .records else { return try inner.deleteRange(bucket, from: from, to: to) }
        // The buffer is in revision order: find its records of the span by one pass.
        var doomed: [[UInt8]] = []
        try inner.scan(.buffer, from: [], to: nil, reverse: false) { bk, _ in
            let rk = BufferKey.recordKey(bk)
            if Bytes.within(rk, start: from, end: to) { doomed.append(Array(bk)) }
            return true
        }
        for bk in doomed { try inner.delete(.buffer, bk) }
        return try inner.deleteRange(.records, from: from, to: to) + doomed.count
    }
}

/// The read algorithms over a buffer and a records tree (shared by both transaction kinds
/// and the backend's point-read path).
enum BufferedRecords {
    /// The buffered value that marks a record deleted by compaction (no record value is
    /// empty: `mvcc-format.md`, "Record values").
    static let compactionMarker: [UInt8] = []

    /// Looks record key `rk` up in the buffer (unless its revision is below
    /// `lowestBuffered` or `filters` say it is not buffered), then in the records tree.
    @inline(__always)
    static func lookup<L: RecordLookup, R>(
        _ source: L, _ rk: UnsafeRawBufferPointer, lowestBuffered: Int64, filters: BufferedKeyFilters?,
        _ body: (UnsafeRawBufferPointer?) throws -> R
    ) throws -> R {
        if rk.count >= BufferKey.minRecordKeyBytes, BufferKey.mainRevision(ofRecordKey: rk) >= lowestBuffered,
            filters?.mayContain(rk) ?? true
        {
            let hit: R?? = try BufferKey.withBufferKey(recordKey: rk) { bk in
                try source.withValue(.buffer, rawKey: bk) { v -> R?? in
                    guard let v else { return .none }
                    return .some(try body(v.isEmpty ? nil : v))  // a compaction marker: deleted
                }
            }
            if let hit { return hit! }
        }
        return try source.withValue(.records, rawKey: rk, body)
    }

    /// `records` scan of `[from, to)` merged with the buffer's records of that span; a record
    /// in both is visited once. Costs one pass over the whole buffer (used by opening a range,
    /// streaming a snapshot; range reads use `scanStored` plus lookups instead).
    static func mergedScan(
        _ inner: any MVCCReadTxn, from: [UInt8], to: [UInt8]?, reverse: Bool,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        var extra: [(key: [UInt8], value: [UInt8])] = []
        try inner.scan(.buffer, from: [], to: nil, reverse: false) { bk, v in
            let rk = BufferKey.recordKey(bk)
            if Bytes.within(rk, start: from, end: to) { extra.append((rk, Array(v))) }
            return true
        }
        if extra.isEmpty { return try inner.scan(.records, from: from, to: to, reverse: reverse, body) }
        extra.sort { reverse ? Bytes.less($1.key, $0.key) : Bytes.less($0.key, $1.key) }
        var i = 0
        var stopped = false
        /// Visits `extra[i]` unless it is a compaction marker.
        func emitExtra() throws -> Bool {
            let e = extra[i]
            i += 1
            if e.value.isEmpty { return true }
            return try e.key.withUnsafeBytes { k in try e.value.withUnsafeBytes { v in try body(k, v) } }
        }
        try inner.scan(.records, from: from, to: to, reverse: reverse) { k, v in
            while i < extra.count {
                var c = extra[i].key.withUnsafeBytes { Bytes.compare($0, k) }
                if reverse { c = -c }
                if c > 0 { break }
                if c == 0 {
                    // The same record in both (flushed, not yet trimmed): visit it once; a
                    // compaction marker hides the tree's copy (not yet deleted by a flush).
                    let marker = extra[i].value.isEmpty
                    i += 1
                    if marker { return true }
                    break
                }
                guard try emitExtra() else {
                    stopped = true
                    return false
                }
            }
            guard try body(k, v) else {
                stopped = true
                return false
            }
            return true
        }
        while !stopped && i < extra.count {
            if try !emitExtra() { stopped = true }
        }
    }
}

/// One lookup in a bucket, by a read transaction or on a backend's latest state.
protocol RecordLookup {
    func withValue<R>(_ bucket: MVCCBucket, rawKey: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R
}

struct TxnLookup: RecordLookup {
    let txn: any MVCCReadTxn
    func withValue<R>(_ bucket: MVCCBucket, rawKey: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        try txn.withValue(bucket, rawKey: rawKey, body)
    }
}

struct BackendLookup: RecordLookup {
    let backend: any MVCCBackend
    func withValue<R>(_ bucket: MVCCBucket, rawKey: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        try backend.withLatestValue(bucket, rawKey: rawKey, body)
    }
}
