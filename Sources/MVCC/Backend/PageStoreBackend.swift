public import PageStore

/// The `MVCCBackend` over the node's PageStore file: each `MVCCBucket` is a named bucket
/// (named by `bucketNames`: the standard `mvcc.*`, or e.g. the system range's `system.mvcc.*`
/// in the same file), `view` is a PageStore read transaction, `update` a write transaction
/// (one fdatasync'ed commit). Buckets are created on first write. Owns nothing but the
/// reference to the file and the name mapping.
public final class PageStoreBackend: MVCCBackend {
    public let file: PageFile
    /// The file's bucket of each `MVCCBucket`.
    public let bucketNames: MVCCBucketNames

    public init(file: PageFile, bucketNames: MVCCBucketNames = .standard) {
        self.file = file
        self.bucketNames = bucketNames
    }

    /// Opens (or creates) the file at `path`.
    public static func open(path: String, options: PageFileOptions = .init()) throws -> PageStoreBackend {
        PageStoreBackend(file: try PageFile.open(path: path, options: options))
    }

    public func view<R>(_ body: (any MVCCReadTxn) throws -> R) throws -> R {
        try file.view { rt in try body(ReadAdapter(copy rt, names: bucketNames)) }
    }

    /// No transaction value, no adapter and no bucket-directory lookup per call (see
    /// `PageFile.withLatestValue`): a point read allocates nothing here.
    public func withLatestValue<R>(
        _ bucket: MVCCBucket, rawKey: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> R
    ) throws -> R {
        try file.withLatestValue(inBucket: bucketNames[bucket], rawKey: rawKey, body)
    }

    public func update<R>(_ body: (any MVCCWriteTxn) throws -> R) throws -> R {
        try file.update { wt in
            let adapter = WriteAdapter(wt, names: bucketNames)
            defer { adapter.closed = true }
            return try body(adapter)
        }
    }

    /// Read side: caches each bucket handle for the transaction's lifetime.
    final class ReadAdapter: MVCCReadTxn {
        let txn: ReadTransaction
        let names: MVCCBucketNames
        private var records: Bucket??
        /// The records bucket's root for raw-key point lookups (the read path of every
        /// point Range), looked up once per transaction.
        private var recordsRoot: BucketRoot??
        /// The write buffer's root (`WriteBufferedBackend` looks buffered records up by raw key).
        private var bufferRoot: BucketRoot??

        init(_ txn: ReadTransaction, names: MVCCBucketNames) {
            self.txn = txn
            self.names = names
        }

        func bucket(_ b: MVCCBucket) throws -> Bucket? {
            guard b == .records else { return try txn.bucket(named: names[b]) }
            if let records { return records }
            let found = try txn.bucket(named: names[b])
            records = .some(found)
            return found
        }

        func get(_ bucket: MVCCBucket, _ key: [UInt8]) throws -> [UInt8]? {
            try self.bucket(bucket)?.get(key)
        }

        func withValue<R>(_ bucket: MVCCBucket, _ key: [UInt8], _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
            guard let b = try self.bucket(bucket) else { return try body(nil) }
            return try b.withValue(forKey: key, body)
        }

        func withValue<R>(
            _ bucket: MVCCBucket, rawKey: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> R
        ) throws -> R {
            if bucket == .records || bucket == .buffer {
                let root: BucketRoot?
                let cached = bucket == .records ? recordsRoot : bufferRoot
                if let cached {
                    root = cached
                } else {
                    root = try txn.bucketRoot(named: names[bucket])
                    if bucket == .records { recordsRoot = .some(root) } else { bufferRoot = .some(root) }
                }
                guard let root else { return try body(nil) }
                return try txn.withValue(in: root, rawKey: rawKey, body)
            }
            guard let b = try self.bucket(bucket) else { return try body(nil) }
            return try b.withValue(forRawKey: rawKey, body)
        }

        func scan(
            _ bucket: MVCCBucket, from: [UInt8], to: [UInt8]?, reverse: Bool,
            _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
        ) throws {
            try self.bucket(bucket)?.scan(from: from, to: to, reverse: reverse, body)
        }
    }

    /// Write side: a copy of the transaction value (its state lives in a shared context).
    final class WriteAdapter: MVCCWriteTxn {
        var txn: WriteTransaction
        let names: MVCCBucketNames
        var closed = false
        private var cache: [MVCCBucket: WriteBucket] = [:]

        init(_ txn: WriteTransaction, names: MVCCBucketNames) {
            self.txn = txn
            self.names = names
        }

        private func existing(_ b: MVCCBucket) throws -> WriteBucket? {
            precondition(!closed, "MVCC write transaction used after commit")
            if let cached = cache[b] { return cached }
            let found = try txn.bucket(named: names[b])
            if let found { cache[b] = found }
            return found
        }

        private func writable(_ b: MVCCBucket) throws -> WriteBucket {
            if let found = try existing(b) { return found }
            let created = try txn.createBucketIfNeeded(named: names[b])
            cache[b] = created
            return created
        }

        func get(_ bucket: MVCCBucket, _ key: [UInt8]) throws -> [UInt8]? {
            try existing(bucket)?.get(key)
        }

        func withValue<R>(_ bucket: MVCCBucket, _ key: [UInt8], _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
            guard let b = try existing(bucket) else { return try body(nil) }
            return try b.withValue(forKey: key, body)
        }

        func scan(
            _ bucket: MVCCBucket, from: [UInt8], to: [UInt8]?, reverse: Bool,
            _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
        ) throws {
            try existing(bucket)?.scan(from: from, to: to, reverse: reverse, body)
        }

        func put(_ bucket: MVCCBucket, _ key: [UInt8], _ value: [UInt8]) throws {
            // A file holding write-buffered records must be refused by code without the
            // buffer (`Meta.writeBuffer`): mark it with the first buffered record.
            if bucket == .buffer { txn.requireFeature(.writeBuffer) }
            try writable(bucket).put(key, value)
        }

        func delete(_ bucket: MVCCBucket, _ key: [UInt8]) throws {
            _ = try existing(bucket)?.delete(key)
        }

        func keyCount(_ bucket: MVCCBucket) throws -> Int? {
            try existing(bucket)?.count ?? 0
        }

        func deleteRange(_ bucket: MVCCBucket, from: [UInt8], to: [UInt8]?) throws -> Int {
            try existing(bucket)?.deleteRange(from: from, to: to) ?? 0
        }
    }
}
