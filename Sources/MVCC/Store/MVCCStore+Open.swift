public import Base

/// Creating, opening (rebuilding the index from the range's segment) and listing ranges.
extension MVCCStore {
    /// Creates a new, empty range `[start, end)` in the file (replacing any metadata of the
    /// same ID; records already in the segment are kept and indexed).
    public static func create(
        backend: any MVCCBackend, rangeID: RangeID, start: [UInt8], end: [UInt8]?,
        descriptor: [UInt8] = [], appliedIndex: UInt64 = 0
    ) throws -> MVCCStore {
        try backend.update { wtx in
            let s = RangeState(
                rangeID: rangeID, start: start, end: end, descriptor: descriptor, appliedIndex: appliedIndex,
                currentRevision: 0, compactedRevision: 0, index: BTree<KeyIndex>())
            try s.writeMeta(wtx, full: true)
        }
        return try open(backend: backend, rangeID: rangeID)
    }

    /// Opens a range recorded in the file and rebuilds its index from its segment.
    public static func open(backend: any MVCCBackend, rangeID: RangeID) throws -> MVCCStore {
        let state = try backend.view { rtx in
            if !backend.readsWriteBuffer { try refuseWriteBuffer(rtx) }
            return try RangeState.load(rangeID: rangeID, rtx)
        }
        return MVCCStore(backend: backend, state: state)
    }

    /// Throws when the file's write buffer holds records: a backend that does not read the
    /// buffer (`MVCCBackend.readsWriteBuffer`) would miss them.
    static func refuseWriteBuffer(_ rtx: any MVCCReadTxn) throws {
        var buffered = false
        try rtx.scan(.buffer, from: [], to: nil, reverse: false) { _, _ in
            buffered = true
            return false
        }
        if buffered {
            throw MVCCError.corruptMetadata(
                "the file holds write-buffered records (mvcc.buffer): open it through WriteBufferedBackend")
        }
    }

    /// The IDs of every range with metadata in the file.
    public static func rangeIDs(backend: any MVCCBackend) throws -> [RangeID] {
        try backend.view { rtx in
            var ids: [RangeID] = []
            try rtx.scan(.meta, from: [0x72], to: [0x73], reverse: false) { k, _ in
                if k.count == 10, k[9] == MetaKey.Field.bounds.rawValue {
                    ids.append(RangeID(readBigEndian(k, at: 1)))
                }
                return true
            }
            return ids
        }
    }
}

extension RangeState {
    /// Writes the range's metadata; `full` also writes bounds and descriptor.
    func writeMeta(_ wtx: any MVCCWriteTxn, full: Bool) throws {
        let id = rangeID.rawValue
        if full {
            try wtx.put(.meta, MetaKey.key(id, .bounds), MetaKey.encodeBounds(start: start, end: end))
            try wtx.put(.meta, MetaKey.key(id, .descriptor), descriptor)
        }
        try wtx.put(.meta, MetaKey.key(id, .appliedIndex), MetaKey.int64(Int64(bitPattern: appliedIndex)))
        try wtx.put(.meta, MetaKey.key(id, .currentRevision), MetaKey.int64(currentRevision))
        try wtx.put(.meta, MetaKey.key(id, .compactedRevision), MetaKey.int64(compactedRevision))
        if full || pending.revokedLeasesDirty {
            if revokedLeases.isEmpty {
                try wtx.delete(.meta, MetaKey.key(id, .revokedLeases))
            } else {
                try wtx.put(.meta, MetaKey.key(id, .revokedLeases), revokedLeases)
            }
        }
    }

    /// Reads the range's metadata and rebuilds its index from the records of its segment.
    /// A compaction that did not finish before a crash is redone (its deletions become
    /// pending writes).
    static func load(rangeID: RangeID, _ rtx: any MVCCReadTxn) throws -> RangeState {
        let h = try loadHeader(rangeID: rangeID, rtx)
        let index = try rebuildIndex(start: h.start, end: h.end, rtx)
        var s = RangeState(
            rangeID: rangeID, start: h.start, end: h.end, descriptor: h.descriptor,
            appliedIndex: h.appliedIndex, currentRevision: h.currentRevision,
            compactedRevision: h.compactedRevision, index: index)
        s.revokedLeases = h.revokedLeases
        if h.compactedRevision > 0 {
            // After this full pass, keys with remaining history are tracked in `touched`.
            s.touchedAll = false
            s.compaction = .allFrom(s.start)
            s.finishCompaction()
        }
        return s
    }

    /// The range's metadata only (what a snapshot header carries), without rebuilding the
    /// index: a snapshot reads it instead of `load`, which scans the whole segment.
    static func loadHeader(rangeID: RangeID, _ rtx: any MVCCReadTxn) throws -> SegmentSnapshot.Header {
        let id = rangeID.rawValue
        guard let boundsBytes = try rtx.get(.meta, MetaKey.key(id, .bounds)),
            let bounds = MetaKey.decodeBounds(boundsBytes)
        else { throw MVCCError.corruptMetadata("range \(rangeID) has no bounds") }
        let descriptor = try rtx.get(.meta, MetaKey.key(id, .descriptor)) ?? []
        let applied = MetaKey.readInt64(try rtx.get(.meta, MetaKey.key(id, .appliedIndex))) ?? 0
        let current = MetaKey.readInt64(try rtx.get(.meta, MetaKey.key(id, .currentRevision))) ?? 0
        let compacted = MetaKey.readInt64(try rtx.get(.meta, MetaKey.key(id, .compactedRevision))) ?? 0
        let revoked = try rtx.get(.meta, MetaKey.key(id, .revokedLeases)) ?? []
        return SegmentSnapshot.Header(
            rangeID: rangeID, start: bounds.start, end: bounds.end, appliedIndex: UInt64(bitPattern: applied),
            currentRevision: current, compactedRevision: compacted, descriptor: descriptor, revokedLeases: revoked)
    }

    /// Builds the index from the segment's records, which arrive in (key, revision) order.
    static func rebuildIndex(start: [UInt8], end: [UInt8]?, _ rtx: any MVCCReadTxn) throws -> BTree<KeyIndex> {
        let (lo, hi) = RecordKey.segment(start: start, end: end)
        var built: [KeyIndex] = []
        var current: KeyIndex?
        var currentPrefix: [UInt8] = []
        var failure: MVCCError?
        try rtx.scan(.records, from: lo, to: hi, reverse: false) { k, v in
            let rev = RecordKey.revision(k)
            // Same user key as the previous record iff the encoded prefix is identical.
            let sameKey: Bool
            if current != nil {
                sameKey = RecordKey.hasPrefix(k, currentPrefix)
            } else {
                sameKey = false
            }
            if !sameKey {
                if let cur = current { built.append(cur) }
                guard let (key, _) = RecordKey.decode(k) else {
                    failure = .corruptMetadata("malformed record key")
                    return false
                }
                current = KeyIndex(key: key)
                currentPrefix = Array(k[0..<(k.count - Revision.encodedCount)])
            }
            if RecordValue.isTombstone(v) {
                if current!.isEmpty {
                    current!.restoreTombstone(rev)
                } else {
                    current!.tombstone(rev)
                }
            } else {
                guard v.count >= RecordValue.headerCount else {
                    failure = .corruptMetadata("malformed record value")
                    return false
                }
                let lease = Int64(bitPattern: readBigEndian(v, at: 17))
                if current!.isEmpty {
                    current!.restore(
                        created: Revision(main: Int64(bitPattern: readBigEndian(v, at: 1))), modified: rev,
                        version: Int64(bitPattern: readBigEndian(v, at: 9)), lease: lease)
                } else {
                    current!.put(rev, lease: lease)
                }
            }
            return true
        }
        if let failure { throw failure }
        if let cur = current { built.append(cur) }
        return BTree(sorted: built)
    }
}
