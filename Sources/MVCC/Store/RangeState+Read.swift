/// Reads: etcd's `rangeKeys` (mvcc/kvstore_txn.go) and `executeRange` (etcdserver/txn).
extension RangeState {
    /// etcd's `rangeKeys`: the key-values of `[key, end)` at revision `requested` (<= 0: the
    /// current one) where `current` is the read view's revision. `limit <= 0` is unlimited;
    /// `count` is always the total number of matching keys.
    func rangeKeys(
        _ key: [UInt8], _ end: [UInt8]?, requested: Int64, current: Int64, limit: Int,
        countOnly: Bool, keysOnly: Bool = false, _ rtx: any MVCCReadTxn
    ) throws -> (kvs: [KeyValue], count: Int) {
        if requested > current { throw MVCCError.futureRevision }
        let rev = requested <= 0 ? current : requested
        // The latest state is always readable, also when a cluster-wide compaction recorded a
        // compacted revision above this range's current one.
        if requested > 0 && rev < compactedRevision { throw MVCCError.compacted }
        if end == nil && !countOnly {
            // Point read: no intermediate list, no copy of the key's index entry.
            guard let g = index.withElement(key, { $0.get(atRev: rev) }) ?? nil else { return ([], 0) }
            guard var kv = try keyValue(key, g.modified, rtx, withValue: !keysOnly) else {
                throw MVCCError.corruptMetadata("record \(g.modified) of an indexed key is missing")
            }
            kv.version = g.version
            kv.createRevision = g.created.main
            return ([kv], 1)
        }
        var found: [IndexHit] = []
        var total = 0
        visitIndexInPlace(key, end) { ki in
            if let g = ki.pointee.get(atRev: rev) {
                if !countOnly && (limit <= 0 || found.count < limit) {
                    // No copy of the key (a retain is an atomic operation on the key's
                    // cold buffer, one at a time; perf: 14% of a scan). Reading its count
                    // is a plain load, so the misses of many keys overlap.
                    found.append(IndexHit(entry: ki, keyCount: ki.pointee.key.count, mod: g.modified, created: g.created, version: g.version))
                }
                total += 1
            }
            return true
        }
        if countOnly { return ([], total) }
        if found.count >= Self.scanThreshold {
            return (try scanRecords(found, withValue: !keysOnly, rtx), total)
        }
        var kvs: [KeyValue] = []
        kvs.reserveCapacity(found.count)
        for f in found {
            guard var kv = try keyValue(f.key, f.mod, rtx, withValue: !keysOnly) else {
                throw MVCCError.corruptMetadata("record \(f.mod) of an indexed key is missing")
            }
            // The index is authoritative for version and creation (equal to the record's).
            kv.version = f.version
            kv.createRevision = f.created.main
            kvs.append(kv)
        }
        return (kvs, total)
    }

    /// A key the index found for a range read: the record to fetch and the index's view
    /// of its version and creation. `entry` points at the key's index entry in the tree
    /// (`BTree.forEachInPlace`), valid while the index is not modified, i.e. during the read.
    struct IndexHit {
        var entry: UnsafePointer<KeyIndex>
        /// The key's length, read while visiting the index (touches the key's buffer early).
        var keyCount: Int
        var key: [UInt8] { entry.pointee.key }
        var mod: Revision
        var created: Revision
        var version: Int64
    }

    /// From this many keys on, records are read by one ordered scan of the segment instead
    /// of one tree lookup per key.
    static let scanThreshold = 16

    /// The key-values of `wanted` (in key order) by a merge of the wanted list with an
    /// ordered scan of the records tree (`scanStored`, bounded by the last wanted record);
    /// pending records are taken from the batch, and records the tree does not hold (a write
    /// buffer's: `WriteBufferedBackend`) are looked up one by one. Version and creation come
    /// from the index. Throws when a wanted record is missing.
    func scanRecords(_ wanted: [IndexHit], withValue: Bool, _ rtx: any MVCCReadTxn) throws -> [KeyValue] {
        guard let first = wanted.first, let last = wanted.last else { return [] }
        var hi = RecordKey.make(last.key, last.mod)
        hi.append(0)  // just past the last wanted record
        if pending.records.isEmpty {
            // Nothing pending: build the results in order straight from the scan.
            var kvs: [KeyValue] = []
            kvs.reserveCapacity(wanted.count)
            var j = 0
            var missing = false
            /// Appends `w` found by a lookup (buffer, then tree); false when it is missing.
            func lookUp(_ w: IndexHit) throws -> Bool {
                guard var kv = try keyValue(w.key, w.mod, rtx, withValue: withValue) else { return false }
                kv.version = w.version
                kv.createRevision = w.created.main
                kvs.append(kv)
                return true
            }
            try rtx.scanStored(.records, from: RecordKey.make(first.key, first.mod), to: hi, reverse: false) { k, v in
                while true {
                    let w = wanted[j]
                    let c = RecordKey.compare(k, w.entry.pointee.key, w.mod)
                    if c < 0 { return true }  // an older version or another record: skip it
                    if c == 0 {
                        guard var kv = RecordValue.decodePut(key: w.entry.pointee.key, rev: w.mod, v, withValue: withValue) else {
                            missing = true  // the wanted record is not a put
                            return false
                        }
                        kv.version = w.version
                        kv.createRevision = w.created.main
                        kvs.append(kv)
                        j += 1
                        return j < wanted.count
                    }
                    // Not in the tree: a buffered record (or a missing one).
                    guard try lookUp(w) else {
                        missing = true
                        return false
                    }
                    j += 1
                    if j == wanted.count { return false }
                }
            }
            while !missing && j < wanted.count {
                guard try lookUp(wanted[j]) else { break }
                j += 1
            }
            if j < wanted.count {
                throw MVCCError.corruptMetadata("record \(wanted[j].mod) of an indexed key is missing")
            }
            return kvs
        }
        var results = [KeyValue?](repeating: nil, count: wanted.count)
        var resolved = [Bool](repeating: false, count: wanted.count)
        if !pending.records.isEmpty {
            for (i, w) in wanted.enumerated() {
                guard let p = pending.records[RecordKey.make(w.key, w.mod)] else { continue }
                resolved[i] = true
                if case .put(let bytes) = p {
                    results[i] = bytes.withUnsafeBytes { RecordValue.decodePut(key: w.key, rev: w.mod, $0, withValue: withValue) }
                }
            }
        }
        if let first = resolved.firstIndex(of: false) {
            var j = first
            try rtx.scanStored(.records, from: RecordKey.make(wanted[first].key, wanted[first].mod), to: hi, reverse: false) { k, v in
                while true {
                    while j < wanted.count && resolved[j] { j += 1 }
                    if j == wanted.count { return false }
                    let c = RecordKey.compare(k, wanted[j].key, wanted[j].mod)
                    if c < 0 { return true }  // an older version or another record: skip it
                    if c == 0 {
                        results[j] = RecordValue.decodePut(key: wanted[j].key, rev: wanted[j].mod, v, withValue: withValue)
                        j += 1
                        return j < wanted.count
                    }
                    j += 1  // not in the tree: looked up below
                }
            }
            // Records the tree scan did not find (write-buffered): one lookup each.
            for i in wanted.indices where !resolved[i] && results[i] == nil {
                results[i] = try keyValue(wanted[i].key, wanted[i].mod, rtx, withValue: withValue)
            }
        }
        var kvs: [KeyValue] = []
        kvs.reserveCapacity(wanted.count)
        for i in wanted.indices {
            guard var kv = results[i].take() else {
                throw MVCCError.corruptMetadata("record \(wanted[i].mod) of an indexed key is missing")
            }
            kv.version = wanted[i].version
            kv.createRevision = wanted[i].created.main
            kvs.append(kv)
        }
        return kvs
    }

    /// etcd's `executeRange`: limit / sort / revision filters / keys_only / count_only on
    /// top of `rangeKeys`. `current` is the read view's revision (the header revision).
    func executeRange(_ r: RangeRequest, current: Int64, _ rtx: any MVCCReadTxn) throws -> RangeResponse {
        var limit = r.limit
        if r.sortOrder != .none || r.minModRevision != 0 || r.maxModRevision != 0
            || r.minCreateRevision != 0 || r.maxCreateRevision != 0
        {
            limit = 0  // fetch everything; sort and truncate afterwards
        }
        if limit > 0 { limit += 1 }  // one extra for `more`
        var (kvs, count) = try rangeKeys(
            r.key, Self.indexEnd(r.rangeEnd), requested: r.revision, current: current,
            limit: Int(clamping: limit), countOnly: r.countOnly,
            keysOnly: r.keysOnly && r.sortTarget != .value, rtx)
        if r.maxModRevision != 0 { kvs.removeAll { $0.modRevision > r.maxModRevision } }
        if r.minModRevision != 0 { kvs.removeAll { $0.modRevision < r.minModRevision } }
        if r.maxCreateRevision != 0 { kvs.removeAll { $0.createRevision > r.maxCreateRevision } }
        if r.minCreateRevision != 0 { kvs.removeAll { $0.createRevision < r.minCreateRevision } }

        var order = r.sortOrder
        if r.sortTarget != .key && order == .none {
            order = .ascend
        } else if r.sortTarget == .key && order == .ascend {
            order = .none  // already in key order
        }
        if order == .descend && r.sortTarget == .key {
            kvs.reverse()  // keys are unique and already ascending
        } else if order != .none {
            Self.sort(&kvs, target: r.sortTarget, descending: order == .descend)
        }

        var more = false
        if r.limit > 0 && kvs.count > Int(r.limit) {
            kvs.removeSubrange(Int(r.limit)...)
            more = true
        }
        if r.keysOnly { for i in kvs.indices { kvs[i].value = [] } }
        return RangeResponse(revision: current, kvs: kvs, more: more, count: Int64(count))
    }

    /// Sorts by the target; ties keep key order (ascending) or reverse key order (descending)
    /// so replicas and tests see one deterministic order (etcd leaves ties unspecified).
    static func sort(_ kvs: inout [KeyValue], target: RangeRequest.SortTarget, descending: Bool) {
        func cmp(_ a: KeyValue, _ b: KeyValue) -> Int {
            switch target {
            case .key: return Bytes.compare(a.key, b.key)
            case .version: return a.version < b.version ? -1 : (a.version == b.version ? 0 : 1)
            case .create: return a.createRevision < b.createRevision ? -1 : (a.createRevision == b.createRevision ? 0 : 1)
            case .mod: return a.modRevision < b.modRevision ? -1 : (a.modRevision == b.modRevision ? 0 : 1)
            case .value: return Bytes.compare(a.value, b.value)
            case .unrecognized: return 0
            }
        }
        kvs.sort { a, b in
            var c = cmp(a, b)
            if c == 0 { c = Bytes.compare(a.key, b.key) }
            return descending ? c > 0 : c < 0
        }
    }
}
