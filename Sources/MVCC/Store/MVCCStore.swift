public import Base


/// The MVCC key-value store of one range: etcd's semantics (Range, Put, DeleteRange, Txn,
/// Compact, watchable history, HashKV) over the range's segment of the node's file. It owns
/// the range's in-memory index and uncommitted batch (behind one mutex); the file and its
/// other ranges belong to the node.
///
/// Writes take the main revision of their Raft entry and must increase it; they are applied
/// to memory and reach the file in `commit(appliedIndex:)`, which writes the batch and the
/// applied index in one transaction (after a crash, the WAL replays from that index).
public final class MVCCStore: Sendable {
    let backend: any MVCCBackend
    public let rangeID: RangeID
    let state: StateLock<RangeState>

    init(backend: any MVCCBackend, state: RangeState) {
        self.backend = backend
        self.rangeID = state.rangeID
        self.state = StateLock(state)
    }

    /// Runs `body` on the locked state with a read view of the file.
    func withState<R>(_ body: (inout RangeState, any MVCCReadTxn) throws -> R) throws -> R {
        try state.withLock { s in
            if s.retired { throw MVCCError.corruptMetadata("range \(rangeID) was merged or dropped") }
            return try backend.view { rtx in try body(&s, rtx) }
        }
    }

    // MARK: introspection

    /// The highest applied main revision.
    public var currentRevision: Int64 { state.withLock { $0.currentRevision } }
    /// Reads below this revision fail with `compacted`.
    public var compactedRevision: Int64 { state.withLock { $0.compactedRevision } }
    /// Raft index of the last applied command (committed or pending).
    public var appliedIndex: UInt64 { state.withLock { $0.appliedIndex } }
    /// The range's user-key bounds; `end == nil` is the end of the keyspace.
    public var bounds: (start: [UInt8], end: [UInt8]?) { state.withLock { ($0.start, $0.end) } }
    public var descriptor: [UInt8] { state.withLock { $0.descriptor } }
    /// Number of keys in the index (live or with history).
    public var indexedKeyCount: Int { state.withLock { $0.index.count } }
    /// The Node layer's record of leases revoked in this range (opaque bytes; committed
    /// with the applied index, read back at open, carried in snapshots, copied to both
    /// sides of a split).
    public var revokedLeases: [UInt8] { state.withLock { $0.revokedLeases } }
    /// Whether applied changes wait for `commit`.
    public var hasPendingWrites: Bool { state.withLock { !$0.pending.isEmpty } }

    /// Records the applied index of a command that changed nothing in MVCC (e.g. a config
    /// change) so that the next commit persists it.
    public func setAppliedIndex(_ index: UInt64) {
        state.withLock { s in
            s.appliedIndex = max(s.appliedIndex, index)
            s.pending.metaDirty = true
        }
    }

    /// Replaces the revoked-lease record (committed with the next `commit`).
    public func setRevokedLeases(_ bytes: [UInt8]) {
        state.withLock { s in
            guard s.revokedLeases != bytes else { return }
            s.revokedLeases = bytes
            s.pending.revokedLeasesDirty = true
            s.pending.metaDirty = true
        }
    }

    /// Raises the current revision without a write (the range saw revision `revision` pass,
    /// e.g. its closed revision), so reads at it are not "future".
    public func advanceRevision(to revision: Int64) {
        state.withLock { s in
            if revision > s.currentRevision {
                s.currentRevision = revision
                s.pending.metaDirty = true
            }
        }
    }

    // MARK: KV

    /// etcd's Range at the current revision.
    public func range(_ r: RangeRequest) throws -> RangeResponse {
        try RequestValidation.check(r)
        return try withReadState(for: r) { s, rtx in try s.executeRange(r, current: s.currentRevision, rtx) }
    }

    /// etcd's Put at main revision `revision`.
    public func put(_ p: PutRequest, revision: Int64) throws -> PutResponse {
        try RequestValidation.check(p)
        if !p.prevKV && !p.ignoreValue && !p.ignoreLease {
            // A blind put reads nothing from the file: no read transaction.
            return try state.withLock { s in
                if s.retired { throw MVCCError.corruptMetadata("range \(rangeID) was merged or dropped") }
                guard revision > s.currentRevision else {
                    throw MVCCError.revisionNotIncreasing(given: revision, current: s.currentRevision)
                }
                guard s.contains(p.key) else { throw MVCCError.keyOutsideRange }
                var ctx = WriteContext(main: revision, previous: s.currentRevision)
                s.applyPut(p.key, value: p.value, lease: p.lease, &ctx)
                s.currentRevision = revision
                s.pending.metaDirty = true
                return PutResponse(revision: revision)
            }
        }
        return try write(revision: revision) { s, ctx, rtx in
            var resp = try s.executePut(p, &ctx, rtx)
            resp.revision = ctx.main
            return resp
        }
    }

    /// etcd's DeleteRange at main revision `revision`.
    public func deleteRange(_ d: DeleteRangeRequest, revision: Int64) throws -> DeleteRangeResponse {
        try RequestValidation.check(d)
        return try write(revision: revision) { s, ctx, rtx in
            var resp = try s.executeDeleteRange(d, &ctx, rtx)
            resp.revision = ctx.main
            return resp
        }
    }

    /// etcd's Txn. A txn with any write op takes main revision `revision` (required); a
    /// read-only txn may pass nil and runs at the current revision. A put of the branches
    /// taken that attaches a lease of `refusingLeases` fails the whole txn with
    /// `leaseNotFound` (nothing is written).
    public func txn(_ t: TxnRequest, revision: Int64?, refusingLeases: Set<Int64> = []) throws -> TxnResponse {
        try RequestValidation.check(t)
        if revision == nil {
            precondition(t.isReadOnly, "a txn with writes needs a revision")
            return try withState { s, rtx in
                let current = s.currentRevision
                let path = try s.comparePath(t, current: current, rtx)
                _ = try s.checkTxn(t, path: path[...], current: current, rtx)
                var ctx = WriteContext(main: current, previous: current)
                var (resp, _) = try s.executeTxn(t, path: path[...], &ctx, rtx)
                resp.revision = current
                return resp
            }
        }
        return try write(revision: revision!) { s, ctx, rtx in
            let path = try s.comparePath(t, current: ctx.previous, rtx)
            _ = try s.checkTxn(t, path: path[...], current: ctx.previous, refusedLeases: refusingLeases, rtx)
            var (resp, _) = try s.executeTxn(t, path: path[...], &ctx, rtx)
            resp.revision = ctx.main
            return resp
        }
    }

    /// Runs one write command at `revision`: checks that it increases, applies it, and makes
    /// it the current revision if it changed something (etcd does not consume a revision for
    /// a DeleteRange that deletes nothing or a Txn whose branch writes nothing; the response
    /// still carries `revision`). A command that fails validation changes nothing.
    func write<R>(
        revision: Int64, _ body: (inout RangeState, inout WriteContext, any MVCCReadTxn) throws -> R
    ) throws -> R {
        try withState { s, rtx in
            guard revision > s.currentRevision else {
                throw MVCCError.revisionNotIncreasing(given: revision, current: s.currentRevision)
            }
            var ctx = WriteContext(main: revision, previous: s.currentRevision)
            let result = try body(&s, &ctx, rtx)
            if ctx.changes > 0 {
                s.currentRevision = revision
                s.pending.metaDirty = true
            }
            return result
        }
    }

    // MARK: durability

    /// Writes everything applied so far, with `appliedIndex`, in one file transaction.
    public func commit(appliedIndex: UInt64) throws {
        try Self.commit([(self, appliedIndex)])
    }

    /// Commits several ranges of the same node file in one transaction (group commit).
    /// Ranges are locked in range-ID order (as `merge` does), so concurrent group commits and
    /// merges cannot deadlock.
    public static func commit(_ unordered: [(store: MVCCStore, appliedIndex: UInt64)]) throws {
        let batch = unordered.sorted { $0.store.rangeID < $1.store.rangeID }
        guard let backend = batch.first?.store.backend else { return }
        precondition(
            Set(batch.map { ObjectIdentifier($0.store) }).count == batch.count, "a range appears twice in one commit")
        var pointers: [UnsafeMutablePointer<RangeState>] = []
        func lockAll(_ i: Int) throws {
            if i == batch.count {
                try backend.update { wtx in
                    for (p, item) in zip(pointers, batch) {
                        p.pointee.appliedIndex = max(p.pointee.appliedIndex, item.appliedIndex)
                        try p.pointee.pending.write(to: wtx)
                        try p.pointee.writeMeta(wtx, full: false)
                    }
                }
                for p in pointers { p.pointee.pending.reset() }
                return
            }
            precondition(batch[i].store.backend === backend, "one commit per node file")
            try batch[i].store.state.withLock { s in
                try withUnsafeMutablePointer(to: &s) { p in
                    pointers.append(p)
                    try lockAll(i + 1)
                }
            }
        }
        try lockAll(0)
    }

    // MARK: leases

    /// The keys of this range attached to `lease` (committed and pending attachments).
    public func keys(attachedTo lease: Int64) throws -> [[UInt8]] {
        try withState { s, rtx in
            var keys = Set<[UInt8]>()
            let lo = LeaseKey.make(lease, s.start)
            let hi = s.end.map { LeaseKey.make(lease, $0) } ?? LeaseKey.make(lease &+ 1, [])
            try rtx.scan(.leases, from: lo, to: lease == -1 && s.end == nil ? nil : hi, reverse: false) { k, _ in
                keys.insert(Array(k[8...]))
                return true
            }
            for (k, attached) in s.pending.leases {
                guard k.count >= 8, k.withUnsafeBytes({ Int64(bitPattern: readBigEndian($0, at: 0)) }) == lease else { continue }
                let key = Array(k[8...])
                guard s.contains(key) else { continue }
                if attached { keys.insert(key) } else { keys.remove(key) }
            }
            return keys.sorted(by: Bytes.less)
        }
    }
}
