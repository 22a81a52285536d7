/// One point lookup at the latest committed state without a transaction value: the read
/// path of a point Range (session 9). A `view` allocates a `TransactionScope` and its caller
/// usually an adapter, and finds the bucket in the directory tree each time; this takes the
/// snapshot and registers it as a reader (so its pages are not reused while `body` runs)
/// exactly as `view` does, reuses the bucket's root found earlier for the same snapshot,
/// and hands out only bytes valid during `body` (nothing can escape, so no scope object).
extension PageFile {
    /// Calls `body` with the value of `key` in bucket `name` of the last committed state
    /// (nil when the bucket or the key is absent). The bytes are valid only during the call.
    public func withLatestValue<R>(
        inBucket name: [UInt8], rawKey key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> R
    ) throws -> R {
        let (snapshot, cached) = try shared.withLock { s throws(PageStoreError) -> (Snapshot, PageID?) in
            try s.checkUsable()
            s.readers.add(s.meta.txid)
            let snapshot = Snapshot(mapping: s.mapping, meta: s.meta, verifyAlways: options.verification == .always)
            return (snapshot, s.latestRoots.root(of: name, txid: s.meta.txid))
        }
        defer {
            let txid = snapshot.meta.txid
            shared.withLock { s in s.readers.remove(txid) }
        }
        let root: PageID
        if let cached {
            root = cached
        } else {
            root = try Self.bucketRoot(name, in: snapshot)
            shared.withLock { s in s.latestRoots.record(name, root: root, txid: snapshot.meta.txid) }
        }
        guard root != 0, let (leaf, i) = try snapshot.lookup(root: root, key: key) else { return try body(nil) }
        return try body(try snapshot.value(leaf, i))
    }

    /// The root page of bucket `name` in `snapshot` (0: no such bucket or an empty one).
    static func bucketRoot(_ name: [UInt8], in snapshot: Snapshot) throws -> PageID {
        try name.withUnsafeBytes { key throws -> PageID in
            guard let (leaf, i) = try snapshot.lookup(root: snapshot.meta.directory, key: key) else { return 0 }
            return try WriteContext.decodeHeader(try snapshot.value(leaf, i)).root
        }
    }
}

/// The bucket roots `withLatestValue` found in one committed state (by txid): a new commit
/// makes them stale, and the next lookup with the new txid starts over. A handful of
/// buckets at most (the MVCC buckets of the node's file), so a short array.
struct LatestBucketRoots {
    private var txid: UInt64 = 0
    private var entries: [(name: [UInt8], root: PageID)] = []

    /// The root of `name` when it was recorded for `txid`.
    func root(of name: [UInt8], txid: UInt64) -> PageID? {
        guard txid == self.txid else { return nil }
        for e in entries where e.name == name { return e.root }
        return nil
    }

    mutating func record(_ name: [UInt8], root: PageID, txid: UInt64) {
        if txid != self.txid {
            // Only a newer snapshot replaces the entries (a slow reader of an older one
            // must not evict the current ones).
            guard txid > self.txid else { return }
            self.txid = txid
            entries.removeAll(keepingCapacity: true)
        }
        guard entries.count < 16, !entries.contains(where: { $0.name == name }) else { return }
        entries.append((name, root))
    }
}
