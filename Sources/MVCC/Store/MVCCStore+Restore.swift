public import Base

/// Building a range from a key-value backup (`flotctl snapshot restore`): the range's state
/// at one revision R — each live key's latest record with its create revision, mod revision,
/// version and lease — and no history before R. The range is created compacted at R (reads
/// and watches below R answer "compacted", as after an etcd compaction at R) with current
/// revision R, so its next write must come above R.
///
/// `createRestored` writes the metadata; `appendRestored` adds key-values in increasing key
/// order, in as many file transactions as the caller likes (bounded memory for large
/// ranges); `open` then rebuilds the index from the records as for any range.
extension MVCCStore {
    /// Errors of a restore (the backup contradicts itself).
    public enum RestoreError: Error, Sendable, Equatable, CustomStringConvertible {
        case keyOutsideRange([UInt8])
        case keysOutOfOrder([UInt8])
        case badRevisions(key: [UInt8], create: Int64, mod: Int64, version: Int64)
        case revisionAboveBackup(key: [UInt8], mod: Int64, backup: Int64)

        public var description: String {
            switch self {
            case .keyOutsideRange(let k): "key \(Self.show(k)) lies outside its range"
            case .keysOutOfOrder(let k): "key \(Self.show(k)) is not above the previous key"
            case .badRevisions(let k, let c, let m, let v):
                "key \(Self.show(k)) has create revision \(c), mod revision \(m), version \(v)"
            case .revisionAboveBackup(let k, let m, let b): "key \(Self.show(k)) has mod revision \(m) above the backup's \(b)"
            }
        }

        static func show(_ k: [UInt8]) -> String { "\"" + String(decoding: k.prefix(64), as: UTF8.self) + "\"" }
    }

    /// Writes the metadata of an empty range `[start, end)` restored at `revision`: current
    /// and compacted revision `revision`, applied index `appliedIndex`.
    public static func createRestored(
        backend: any MVCCBackend, rangeID: RangeID, start: [UInt8], end: [UInt8]?, descriptor: [UInt8],
        revision: Int64, appliedIndex: UInt64 = 0
    ) throws {
        try backend.update { wtx in
            let s = RangeState(
                rangeID: rangeID, start: start, end: end, descriptor: descriptor, appliedIndex: appliedIndex,
                currentRevision: revision, compactedRevision: revision, index: BTree<KeyIndex>())
            try s.writeMeta(wtx, full: true)
        }
    }

    /// Appends `kvs` (strictly increasing keys, all above `after` when given, inside
    /// `[start, end)`, mod revisions at most `revision`) to a range made by `createRestored`,
    /// in one file transaction: the record (key, mod revision) with its create revision,
    /// version and lease, its history entry, and its lease attachment. Returns the last key.
    @discardableResult
    public static func appendRestored(
        _ kvs: [KeyValue], backend: any MVCCBackend, start: [UInt8], end: [UInt8]?, revision: Int64,
        after: [UInt8]?
    ) throws -> [UInt8]? {
        var previous = after
        for kv in kvs {
            guard Bytes.within(kv.key, start: start, end: end) else { throw RestoreError.keyOutsideRange(kv.key) }
            if let p = previous, Bytes.compare(p, kv.key) >= 0 { throw RestoreError.keysOutOfOrder(kv.key) }
            guard kv.createRevision > 0, kv.modRevision >= kv.createRevision, kv.version > 0 else {
                throw RestoreError.badRevisions(key: kv.key, create: kv.createRevision, mod: kv.modRevision, version: kv.version)
            }
            guard kv.modRevision <= revision else {
                throw RestoreError.revisionAboveBackup(key: kv.key, mod: kv.modRevision, backup: revision)
            }
            previous = kv.key
        }
        try backend.update { wtx in
            for kv in kvs {
                let rev = Revision(main: kv.modRevision)
                try wtx.put(.records, RecordKey.make(kv.key, rev),
                            RecordValue.put(create: kv.createRevision, version: kv.version, lease: kv.lease, value: kv.value))
                try wtx.put(.history, HistoryKey.make(rev, kv.key), [])
                if kv.lease != 0 { try wtx.put(.leases, LeaseKey.make(kv.lease, kv.key), []) }
            }
        }
        return previous
    }
}
