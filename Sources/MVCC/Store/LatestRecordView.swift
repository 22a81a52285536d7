/// The read view of a point Range (session 9): each lookup is one `withLatestValue` call on
/// the backend, a snapshot of its own, instead of a read transaction opened for the whole
/// request. Two words, so `any MVCCReadTxn` holds it inline: the view allocates nothing.
///
/// Only for use under the range's lock (`MVCCStore.withReadState(for:_:)`): this range's
/// records change only under that lock (commit, compaction, split, merge, restore all hold
/// it), so every snapshot a call takes shows the same records of this range, and a request
/// sees one consistent state even across calls. The point-read path makes exactly one.
struct LatestRecordView: MVCCReadTxn {
    let backend: any MVCCBackend

    func get(_ bucket: MVCCBucket, _ key: [UInt8]) throws -> [UInt8]? {
        try backend.view { try $0.get(bucket, key) }
    }

    func withValue<R>(_ bucket: MVCCBucket, _ key: [UInt8], _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        try key.withUnsafeBytes { try backend.withLatestValue(bucket, rawKey: $0, body) }
    }

    func withValue<R>(
        _ bucket: MVCCBucket, rawKey: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> R
    ) throws -> R {
        try backend.withLatestValue(bucket, rawKey: rawKey, body)
    }

    func scan(
        _ bucket: MVCCBucket, from: [UInt8], to: [UInt8]?, reverse: Bool,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        try backend.view { try $0.scan(bucket, from: from, to: to, reverse: reverse, body) }
    }
}

extension RangeRequest {
    /// A Range of one key whose answer is that key's record alone (no count-only, no
    /// revision filters): `MVCCStore` answers it with a `LatestRecordView`.
    var isPlainPointRead: Bool {
        rangeEnd.isEmpty && !countOnly && minModRevision == 0 && maxModRevision == 0
            && minCreateRevision == 0 && maxCreateRevision == 0
    }
}

extension MVCCStore {
    /// Runs `body` on the locked state with the read view `r` needs: a `LatestRecordView`
    /// for a plain point read, a read transaction otherwise.
    func withReadState<R>(for r: RangeRequest, _ body: (inout RangeState, any MVCCReadTxn) throws -> R) throws -> R {
        guard r.isPlainPointRead else { return try withState(body) }
        return try state.withLock { s in
            if s.retired { throw MVCCError.corruptMetadata("range \(rangeID) was merged or dropped") }
            return try body(&s, LatestRecordView(backend: backend))
        }
    }
}
