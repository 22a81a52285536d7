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
        return try BufferedRecords.lookup(TxnLookup(txn: inner), rawKey, lowestBuffered: lowestBuffered, body)
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
/// part of an ordered batch), record deletes remove both copies.
final class BufferedWriteTxn: MVCCWriteTxn {
    let inner: any MVCCWriteTxn
    let buffersPuts: Bool
    /// As `BufferedReadTxn.lowestBuffered`, lowered by this transaction's buffered puts.
    private(set) var lowestBuffered: Int64
    /// Record keys this transaction put into the buffer, in order.
    private(set) var bufferedKeys: [[UInt8]] = []

    init(inner: any MVCCWriteTxn, buffersPuts: Bool, lowestBuffered: Int64) {
        self.inner = inner
        self.buffersPuts = buffersPuts
        self.lowestBuffered = lowestBuffered
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
    /// Looks record key `rk` up in the buffer (unless its revision is below
    /// `lowestBuffered`), then in the records tree.
    @inline(__always)
    static func lookup<L: RecordLookup, R>(
        _ source: L, _ rk: UnsafeRawBufferPointer, lowestBuffered: Int64, _ body: (UnsafeRawBufferPointer?) throws -> R
    ) throws -> R {
        if rk.count >= BufferKey.minRecordKeyBytes, BufferKey.mainRevision(ofRecordKey: rk) >= lowestBuffered {
            let hit: R?? = try BufferKey.withBufferKey(recordKey: rk) { bk in
                try source.withValue(.buffer, rawKey: bk) { v -> R?? in
                    guard let v else { return .none }
                    return .some(try body(v))
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
        func emitExtra() throws -> Bool {
            let e = extra[i]
            i += 1
            return try e.key.withUnsafeBytes { k in try e.value.withUnsafeBytes { v in try body(k, v) } }
        }
        try inner.scan(.records, from: from, to: to, reverse: reverse) { k, v in
            while i < extra.count {
                var c = extra[i].key.withUnsafeBytes { Bytes.compare($0, k) }
                if reverse { c = -c }
                if c > 0 { break }
                if c == 0 {
                    i += 1  // the same record in both (flushed, not yet trimmed): visit it once
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
