/// One life of a key, from its creation to its tombstone, as etcd's `generation`:
/// `version` counts the puts (and the final tombstone) made in this life, `created` is the
/// revision of its first put, `revisions` the revisions still indexed (oldest first). After a
/// compaction the oldest revisions are gone but `version` and `created` stay.
struct Generation: Equatable, Sendable {
    var version: Int64 = 0
    var created: Revision = .zero
    var revisions: [Revision] = []

    var isEmpty: Bool { revisions.isEmpty }
}

/// The revision history of one user key, as etcd's `keyIndex` (key_index.go). It owns the
/// key's generations, its last modification and the lease the latest put attached; it must
/// not hold values (those live in the file's records bucket).
///
/// Example (etcd's doc comment, restated): put@1.0, put@2.0, tombstone@3.0, put@4.0,
/// tombstone@5.0 gives generations `{1.0, 2.0, 3.0(t)}`, `{4.0, 5.0(t)}`, `{}`. Compacting at
/// 2 keeps `{2.0, 3.0(t)}, {4.0, 5.0(t)}, {}`; at 4 keeps `{4.0, 5.0(t)}, {}`; at 5 removes
/// everything (the key disappears from the index).
struct KeyIndex: Sendable {
    var key: [UInt8]
    /// The revision of the latest put or tombstone.
    var modified: Revision = .zero
    /// Invariant: never empty; only the last generation may be empty (a live key's last
    /// generation is non-empty; a deleted key's last generation is empty).
    var generations: [Generation] = [Generation()]
    /// The lease the latest put attached (0 = none, also after a tombstone).
    var lease: Int64 = 0
    /// Copies of the last generation's `created` and `version` while the key is live
    /// (`liveVersion` 0 when it is not), so that reading a live key at or after its last
    /// modification touches no heap memory (scans and point reads: one cache miss less per
    /// key). Invariant: `liveVersion == (isLive ? generations.last!.version : 0)` and, when
    /// live, `liveCreated == generations.last!.created`.
    private(set) var liveCreated: Revision = .zero
    private(set) var liveVersion: Int64 = 0

    init(key: [UInt8]) { self.key = key }

    /// The key has no revision left (it may be removed from the tree).
    var isEmpty: Bool { generations.count == 1 && generations[0].isEmpty }

    /// Whether the key exists at the newest revision.
    var isLive: Bool { !generations[generations.count - 1].isEmpty }

    /// Records a put at `rev`. Precondition: `rev > modified`.
    mutating func put(_ rev: Revision, lease: Int64) {
        precondition(rev > modified, "put at \(rev) not above \(modified)")
        let last = generations.count - 1
        if generations[last].revisions.isEmpty { generations[last].created = rev }
        generations[last].revisions.append(rev)
        generations[last].version += 1
        modified = rev
        self.lease = lease
        liveCreated = generations[last].created
        liveVersion = generations[last].version
    }

    /// Records a deletion at `rev`: ends the current generation and opens an empty one.
    /// Returns false (and changes nothing) when the key is not live.
    @discardableResult
    mutating func tombstone(_ rev: Revision) -> Bool {
        guard isLive else { return false }
        put(rev, lease: 0)
        generations.append(Generation())
        liveVersion = 0
        return true
    }

    /// Rebuild: the first record found for a key whose older history was compacted.
    /// `created` and `version` come from the record itself (etcd's `restore`).
    mutating func restore(created: Revision, modified rev: Revision, version: Int64, lease: Int64) {
        precondition(isEmpty)
        generations = [Generation(version: version, created: created, revisions: [rev])]
        modified = rev
        self.lease = lease
        liveCreated = created
        liveVersion = version
    }

    /// Rebuild: the first record found is a tombstone (its creation was compacted away).
    mutating func restoreTombstone(_ rev: Revision) {
        precondition(isEmpty)
        generations = [Generation(version: 1, created: .zero, revisions: [rev]), Generation()]
        modified = rev
        lease = 0
        liveVersion = 0
    }

    /// The generation alive at `atRev` (main revision), or nil when the key did not exist then.
    private func generationIndex(at atRev: Int64) -> Int? {
        let last = generations.count - 1
        var i = last
        while i >= 0 {
            let g = generations[i]
            if g.isEmpty { i -= 1; continue }
            if i != last, g.revisions[g.revisions.count - 1].main <= atRev {
                return nil  // the key was deleted at or before atRev
            }
            if g.revisions[0].main <= atRev { return i }
            i -= 1
        }
        return nil
    }

    /// The key's state at main revision `atRev`: the revision of the put visible then, the
    /// creation revision of that life and the version; nil when the key did not exist.
    @inline(__always)
    func get(atRev: Int64) -> (modified: Revision, created: Revision, version: Int64)? {
        // Fast path: reading a live key at or after its last modification (no heap access).
        if atRev >= modified.main && liveVersion > 0 {
            return (modified, liveCreated, liveVersion)
        }
        return getSlow(atRev: atRev)
    }

    private func getSlow(atRev: Int64) -> (modified: Revision, created: Revision, version: Int64)? {
        guard let gi = generationIndex(at: atRev) else { return nil }
        let g = generations[gi]
        var n = g.revisions.count - 1
        while n >= 0, g.revisions[n].main > atRev { n -= 1 }
        guard n >= 0 else { return nil }
        return (g.revisions[n], g.created, g.version - Int64(g.revisions.count - n - 1))
    }

    /// The indexed revision immediately before `rev` in the same generation (the previous
    /// version of the key, used for a watch event's prev_kv); nil at a generation start.
    func previous(before rev: Revision) -> Revision? {
        for g in generations where !g.isEmpty {
            guard let first = g.revisions.first, let last = g.revisions.last else { continue }
            if rev < first || rev > last { continue }
            var prev: Revision?
            for r in g.revisions {
                if r >= rev { return prev }
                prev = r
            }
        }
        return nil
    }

    /// Finds the generation compaction at `atRev` starts from and the index of the newest
    /// revision `<= atRev` in it (or -1), as etcd's `doCompact`.
    private func compactionPoint(_ atRev: Int64) -> (gen: Int, rev: Int) {
        var gi = 0
        while gi < generations.count - 1 {
            let g = generations[gi]
            if g.revisions[g.revisions.count - 1].main >= atRev { break }
            gi += 1
        }
        let revs = generations[gi].revisions
        var ri = revs.count - 1
        while ri >= 0, revs[ri].main > atRev { ri -= 1 }
        return (gi, ri)
    }

    /// Compacts the history at `atRev` (etcd's `compact`): drops generations that ended
    /// before `atRev` and, in the generation alive at `atRev`, every revision older than the
    /// newest one `<= atRev`; a tombstone left alone is dropped too. Appends every removed
    /// revision `<= atRev` to `removed` (those records may be deleted from the file).
    mutating func compact(atRev: Int64, removed: inout [Revision]) {
        let (gi0, ri) = compactionPoint(atRev)
        var gi = gi0
        for i in 0..<gi { removed.append(contentsOf: generations[i].revisions) }
        if !generations[gi].isEmpty {
            if ri > 0 {
                removed.append(contentsOf: generations[gi].revisions[0..<ri])
                generations[gi].revisions.removeFirst(ri)
            }
            if generations[gi].revisions.count == 1 && gi != generations.count - 1 {
                let tomb = generations[gi].revisions[0]
                if tomb.main <= atRev { removed.append(tomb) }
                gi += 1
            }
        }
        if gi > 0 { generations.removeFirst(gi) }
    }

    /// The revision compaction at `atRev` keeps as the key's visible state at `atRev`
    /// (etcd's `keep`): nil when none or when it is a tombstone.
    func kept(atRev: Int64) -> Revision? {
        if isEmpty { return nil }
        let (gi, ri) = compactionPoint(atRev)
        let g = generations[gi]
        if g.isEmpty || ri < 0 { return nil }
        if ri == g.revisions.count - 1 && gi != generations.count - 1 { return nil }
        return g.revisions[ri]
    }

    /// Every indexed revision, oldest first, with whether it is a tombstone.
    func forEachRevision(_ body: (Revision, _ isTombstone: Bool) throws -> Void) rethrows {
        let last = generations.count - 1
        for (gi, g) in generations.enumerated() {
            for (ri, r) in g.revisions.enumerated() {
                try body(r, gi != last && ri == g.revisions.count - 1)
            }
        }
    }
}

extension KeyIndex: BTreeElement {}
