public import Base

/// Split, merge and drop of range segments. Records are ordered by user key, so split and
/// merge only rewrite range metadata (bounds, revisions, applied index) and re-partition
/// the in-memory index; no record, history entry or lease attachment is copied.
extension MVCCStore {
    /// Splits this range at `splitKey`: this range keeps `[start, splitKey)`, the returned
    /// new range `rightRangeID` gets `[splitKey, end)` with the same revisions. Pending
    /// writes of this range are committed in the same file transaction (with
    /// `appliedIndex`, the split command's index); the right range starts at
    /// `rightAppliedIndex`.
    public func split(
        at splitKey: [UInt8], rightRangeID: RangeID, leftDescriptor: [UInt8], rightDescriptor: [UInt8],
        appliedIndex: UInt64, rightAppliedIndex: UInt64
    ) throws -> MVCCStore {
        let right: RangeState = try state.withLock { s in
            if s.retired { throw MVCCError.corruptMetadata("range \(rangeID) was merged or dropped") }
            guard Bytes.compare(splitKey, s.start) > 0, s.end.map({ Bytes.compare(splitKey, $0) < 0 }) ?? true else {
                throw MVCCError.keyOutsideRange
            }
            s.finishCompaction()
            var leftKeys: [KeyIndex] = []
            var rightKeys: [KeyIndex] = []
            s.index.forEach { ki in
                if Bytes.compare(ki.key, splitKey) < 0 { leftKeys.append(ki) } else { rightKeys.append(ki) }
                return true
            }
            var left = s
            left.end = splitKey
            left.descriptor = leftDescriptor
            left.appliedIndex = max(s.appliedIndex, appliedIndex)
            var r = RangeState(
                rangeID: rightRangeID, start: splitKey, end: s.end, descriptor: rightDescriptor,
                appliedIndex: rightAppliedIndex, currentRevision: s.currentRevision,
                compactedRevision: s.compactedRevision, index: BTree(sorted: rightKeys))
            // Both halves keep the revoked-lease record (a revoke applied to the whole range).
            r.revokedLeases = s.revokedLeases
            try backend.update { wtx in
                try left.pending.write(to: wtx)
                try left.writeMeta(wtx, full: true)
                try r.writeMeta(wtx, full: true)
            }
            left.pending = PendingWrites()
            left.index = BTree(sorted: leftKeys)
            s = left
            return r
        }
        return MVCCStore(backend: backend, state: right)
    }

    /// Merges the adjacent range `right` (whose start is this range's end) into this one.
    /// The merged range's compacted revision is the larger of the two (the other side's
    /// index is compacted to it); its current revision the larger too. `right` is retired.
    /// `revokedLeases` is the merged range's revoked-lease record (the Node layer combines
    /// both sides'); nil keeps this range's.
    public func merge(_ right: MVCCStore, descriptor: [UInt8], appliedIndex: UInt64, revokedLeases: [UInt8]? = nil) throws {
        precondition(right !== self && right.backend === backend, "merge needs two ranges of one file")
        try lockInOrder(right) { l, r in
            do {
                if l.retired || r.retired { throw MVCCError.corruptMetadata("range was merged or dropped") }
                guard let end = l.end, end == r.start else { throw MVCCError.keyOutsideRange }
                l.finishCompaction()
                r.finishCompaction()
                var merged = l
                merged.end = r.end
                merged.descriptor = descriptor
                if let revokedLeases { merged.revokedLeases = revokedLeases }
                merged.appliedIndex = max(l.appliedIndex, appliedIndex)
                merged.currentRevision = max(l.currentRevision, r.currentRevision)
                merged.compactedRevision = max(l.compactedRevision, r.compactedRevision)
                merged.index = BTree(sorted: l.index.elements() + r.index.elements())
                // Records of the side compacted less become pending deletions of the merged range.
                for (k, v) in r.pending.records { merged.pending.records[k] = v }
                merged.pending.history += r.pending.history
                merged.pending.historyDeletes += r.pending.historyDeletes
                for (k, v) in r.pending.leases { merged.pending.leases[k] = v }
                merged.touchedAll = true
                if l.compactedRevision != r.compactedRevision {
                    // Compacting the already-compacted side again at the same revision is a no-op.
                    merged.compaction = .allFrom(merged.start)
                    merged.finishCompaction()
                }
                let rightID = r.rangeID.rawValue
                try backend.update { wtx in
                    try merged.pending.write(to: wtx)
                    try merged.writeMeta(wtx, full: true)
                    let (lo, hi) = MetaKey.rangePrefix(rightID)
                    try wtx.deleteRange(.meta, from: lo, to: hi)
                }
                merged.pending = PendingWrites()
                l = merged
                r.retired = true
                r.index = BTree()
                r.pending = PendingWrites()
            }
        }
    }

    /// Locks this range and `other` in range-ID order (the order group commits use).
    private func lockInOrder(_ other: MVCCStore, _ body: (inout RangeState, inout RangeState) throws -> Void) throws {
        if rangeID < other.rangeID {
            try state.withLock { a in try other.state.withLock { b in try body(&a, &b) } }
        } else {
            try other.state.withLock { b in try state.withLock { a in try body(&a, &b) } }
        }
    }

    /// Deletes the range from the file: its records, its history entries and lease
    /// attachments (found by scanning those node-wide buckets) and its metadata, in one
    /// transaction. The store is retired.
    public func drop() throws {
        try state.withLock { s in
            if s.retired { return }
            try backend.update { wtx in try Self.deleteSegment(start: s.start, end: s.end, rangeID: s.rangeID, wtx) }
            s.retired = true
            s.index = BTree()
            s.pending = PendingWrites()
        }
    }

    /// Removes every trace of user keys `[start, end)` and of range `rangeID`'s metadata.
    static func deleteSegment(start: [UInt8], end: [UInt8]?, rangeID: RangeID, _ wtx: any MVCCWriteTxn) throws {
        let (lo, hi) = RecordKey.segment(start: start, end: end)
        try wtx.deleteRange(.records, from: lo, to: hi)
        var doomed: [[UInt8]] = []
        try wtx.scan(.history, from: [], to: nil, reverse: false) { k, _ in
            if k.count >= Revision.encodedCount,
                Bytes.within(Array(k[Revision.encodedCount...]), start: start, end: end)
            {
                doomed.append(Array(k))
            }
            return true
        }
        for k in doomed { try wtx.delete(.history, k) }
        doomed.removeAll()
        try wtx.scan(.leases, from: [], to: nil, reverse: false) { k, _ in
            if k.count >= 8, Bytes.within(Array(k[8...]), start: start, end: end) { doomed.append(Array(k)) }
            return true
        }
        for k in doomed { try wtx.delete(.leases, k) }
        let (mlo, mhi) = MetaKey.rangePrefix(rangeID.rawValue)
        try wtx.deleteRange(.meta, from: mlo, to: mhi)
    }
}
