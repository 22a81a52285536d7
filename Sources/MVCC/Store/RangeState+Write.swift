/// Writes: etcd's `storeTxnWrite.put / delete / deleteRange` and the etcdserver `put` /
/// `deleteRange` wrappers (prev_kv, ignore_value, ignore_lease). Every change of one command
/// shares `WriteContext.main` and takes the next sub revision.
struct WriteContext {
    /// The command's main revision (from the Raft entry).
    let main: Int64
    /// The store's revision before the command.
    let previous: Int64
    /// Changes made so far (the next sub revision).
    var changes: Int64 = 0

    /// etcd: a read inside a write txn sees revision `beginRev + 1` once something changed.
    var readRevision: Int64 { changes > 0 ? main : previous }
}

extension RangeState {
    /// Stores a new version of `key` at the next sub revision.
    mutating func applyPut(_ key: [UInt8], value: [UInt8], lease: Int64, _ ctx: inout WriteContext) {
        let rev = Revision(main: ctx.main, sub: ctx.changes)
        ctx.changes += 1
        var create = rev.main
        var version: Int64 = 1
        var oldLease: Int64 = 0
        index.upsert(key, make: { KeyIndex(key: key) }) { ki in
            if let g = ki.get(atRev: rev.main) {
                create = g.created.main
                version = g.version + 1
                oldLease = ki.lease
            }
            ki.put(rev, lease: lease)
        }
        if !touchedAll { touched.insert(key) }
        pending.records[RecordKey.make(key, rev)] = .put(
            RecordValue.put(create: create, version: version, lease: lease, value: value))
        pending.history.append((rev, key))
        if oldLease != lease {
            if oldLease != 0 { pending.leases[LeaseKey.make(oldLease, key)] = false }
            if lease != 0 { pending.leases[LeaseKey.make(lease, key)] = true }
        }
    }

    /// Writes a tombstone for a live key at the next sub revision.
    mutating func applyDelete(_ key: [UInt8], _ ctx: inout WriteContext) {
        let rev = Revision(main: ctx.main, sub: ctx.changes)
        var oldLease: Int64 = 0
        let done = index.modify(key) { ki -> Bool in
            oldLease = ki.lease
            return ki.tombstone(rev)
        }
        guard done == true else { return }
        ctx.changes += 1
        if !touchedAll { touched.insert(key) }
        pending.records[RecordKey.make(key, rev)] = .put(RecordValue.tombstone)
        pending.history.append((rev, key))
        if oldLease != 0 { pending.leases[LeaseKey.make(oldLease, key)] = false }
    }

    /// etcdserver `put` inside a write: prev_kv / ignore_value / ignore_lease read the key
    /// as the write sees it (earlier changes of the same txn included).
    mutating func executePut(_ p: PutRequest, _ ctx: inout WriteContext, _ rtx: any MVCCReadTxn) throws -> PutResponse {
        guard contains(p.key) else { throw MVCCError.keyOutsideRange }
        var value = p.value
        var lease = p.lease
        var prev: KeyValue?
        if p.ignoreValue || p.ignoreLease || p.prevKV {
            let rr = try rangeKeys(
                p.key, nil, requested: 0, current: ctx.readRevision, limit: 0, countOnly: false, rtx)
            prev = rr.kvs.first
        }
        if p.ignoreValue || p.ignoreLease {
            guard let prev else { throw MVCCError.keyNotFound }
            if p.ignoreValue { value = prev.value }
            if p.ignoreLease { lease = prev.lease }
        }
        applyPut(p.key, value: value, lease: lease, &ctx)
        return PutResponse(revision: ctx.main, prevKV: p.prevKV ? prev : nil)
    }

    /// etcdserver `deleteRange` inside a write.
    mutating func executeDeleteRange(
        _ d: DeleteRangeRequest, _ ctx: inout WriteContext, _ rtx: any MVCCReadTxn
    ) throws -> DeleteRangeResponse {
        let end = Self.indexEnd(d.rangeEnd)
        var prevKVs: [KeyValue] = []
        if d.prevKV {
            prevKVs = try rangeKeys(
                d.key, end, requested: 0, current: ctx.readRevision, limit: 0, countOnly: false, rtx
            ).kvs
        }
        var keys: [[UInt8]] = []
        let at = ctx.readRevision
        visitIndex(d.key, end) { ki in
            if ki.get(atRev: at) != nil { keys.append(ki.key) }
            return true
        }
        for k in keys { applyDelete(k, &ctx) }
        let revision = (keys.isEmpty && ctx.changes == 0) ? ctx.previous : ctx.main
        return DeleteRangeResponse(revision: revision, deleted: Int64(keys.count), prevKVs: prevKVs)
    }
}
