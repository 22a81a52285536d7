import Synchronization

/// An `MVCCBackend` with a revision-ordered write buffer in front of the records tree
/// (session 13; `mvcc-format.md`, "Write buffer"). Record puts go to the node-wide
/// `mvcc.buffer` bucket, keyed by revision first (`BufferKey`), so a commit's puts append to
/// a few rightmost leaves instead of rewriting one records leaf each. Flush cycles move them
/// into `mvcc.records` in key order, a bounded chunk per commit (`WriteBufferFlusher`), so a
/// cycle rewrites each touched leaf once for all its window's records. Reads see the union
/// (`BufferedReadTxn`). Owns the inner backend reference, the flush cycle and the lowest
/// buffered revision; one per node file and bucket set, shared by all its ranges.
public final class WriteBufferedBackend: MVCCBackend {
    public let inner: any MVCCBackend
    public let options: WriteBufferOptions
    /// The flush cycle; locked for the whole of `update` (updates are serialised anyway).
    private let flusher: StateLock<WriteBufferFlusher>
    /// Main revision of the buffer's first (oldest) record after the last commit
    /// (`Int64.max`: empty). Only a range's own commits add its buffered records, under its
    /// lock, so a reader holding that lock never sees a value above its records' true minimum.
    private let lowest: Atomic<Int64>

    /// Wraps `inner`, reading the record keys its buffer holds (one pass over the buffer).
    public init(inner: any MVCCBackend, options: WriteBufferOptions = .init()) throws {
        self.inner = inner
        self.options = options
        var keys: [[UInt8]] = []
        var first = Int64.max
        try inner.view { rtx in
            try rtx.scan(.buffer, from: [], to: nil, reverse: false) { bk, _ in
                if keys.isEmpty { first = BufferKey.mainRevision(ofBufferKey: bk) }
                keys.append(BufferKey.recordKey(bk))
                return true
            }
        }
        flusher = StateLock(WriteBufferFlusher(bufferedKeys: keys))
        lowest = Atomic(first)
    }

    public var readsWriteBuffer: Bool { true }

    /// Records in the buffer (an estimate between cycles: puts over an existing record count twice).
    public var bufferedRecords: Int { flusher.withLock { $0.buffered } }

    /// Whether a flush cycle is under way.
    public var flushing: Bool { flusher.withLock { $0.active } }

    public func view<R>(_ body: (any MVCCReadTxn) throws -> R) throws -> R {
        let low = lowest.load(ordering: .acquiring)  // before the snapshot (see `lowest`)
        return try inner.view { rtx in try body(BufferedReadTxn(inner: rtx, lowestBuffered: low)) }
    }

    public func withLatestValue<R>(
        _ bucket: MVCCBucket, rawKey: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> R
    ) throws -> R {
        guard bucket == .records else { return try inner.withLatestValue(bucket, rawKey: rawKey, body) }
        let low = lowest.load(ordering: .acquiring)
        return try BufferedRecords.lookup(BackendLookup(backend: inner), rawKey, lowestBuffered: low, body)
    }

    public func update<R>(_ body: (any MVCCWriteTxn) throws -> R) throws -> R {
        try flusher.withLock { f in
            var step = WriteBufferFlusher.Step()
            var newLowest = Int64.max
            let result = try inner.update { wtx in
                let txn = BufferedWriteTxn(
                    inner: wtx, buffersPuts: options.buffersPuts, lowestBuffered: lowest.load(ordering: .acquiring))
                let r = try body(txn)
                step = try f.step(wtx, bufferedKeys: txn.bufferedKeys, options: options)
                try wtx.scan(.buffer, from: [], to: nil, reverse: false) { bk, _ in
                    newLowest = BufferKey.mainRevision(ofBufferKey: bk)
                    return false
                }
                return r
            }
            f.apply(step)
            lowest.store(newLowest, ordering: .releasing)
            return result
        }
    }
}
