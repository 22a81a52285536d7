/// The single write transaction, valid only inside the `PageFile.update` closure. Sees its
/// own writes. Committed when the closure returns, discarded when it throws.
public struct WriteTransaction {
    let context: WriteContext

    init(context: WriteContext) { self.context = context }

    /// The txid this transaction will commit as.
    public var txid: UInt64 { context.snapshot.meta.txid + 1 }

    private func checkOpen() { precondition(context.open, "WriteTransaction used outside its update closure") }

    /// The bucket `name`, or nil if it does not exist.
    public func bucket(named name: [UInt8]) throws -> WriteBucket? {
        checkOpen()
        return try context.bucket(name).map { WriteBucket(context: context, state: $0) }
    }

    /// The bucket `name`, created empty if it does not exist.
    public mutating func createBucketIfNeeded(named name: [UInt8]) throws -> WriteBucket {
        checkOpen()
        return WriteBucket(context: context, state: try context.createBucket(name))
    }

    /// Deletes bucket `name` and all its keys; returns whether it existed.
    @discardableResult
    public mutating func deleteBucket(named name: [UInt8]) throws -> Bool {
        checkOpen()
        context.mutations += 1
        return try context.deleteBucket(name)
    }

    /// Marks the file as using `feature` from this transaction's commit on: every later meta
    /// carries its flag, and code that does not know the feature refuses to open the file
    /// (`PageStoreError.unsupportedFormat`). Idempotent; cheap to call on every write.
    public func requireFeature(_ feature: PageFileFeature) {
        checkOpen()
        context.requiredFeatures |= feature.flag
    }

    /// Names of all buckets, in order.
    public func bucketNames() throws -> [[UInt8]] {
        checkOpen()
        var names = Set<[UInt8]>()
        try context.reader.scan(context.directory.root, from: nil, to: nil, reverse: false) { k, _ in
            names.insert([UInt8](k))
            return true
        }
        for b in context.buckets.keys { names.insert(b) }
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }
}

/// One bucket inside the write transaction: reads see the transaction's own writes.
/// Bytes passed to closures are valid only inside the closure.
public struct WriteBucket {
    let context: WriteContext
    let state: BucketState

    private func checkOpen() throws {
        precondition(context.open, "WriteBucket used outside its update closure")
        if state.deleted { throw PageStoreError.bucketNotFound(name: state.name) }
    }

    public var name: [UInt8] { state.name }
    /// Number of keys (including this transaction's changes).
    public var count: Int { state.count }

    /// Inserts or replaces `key`.
    public func put(_ key: [UInt8], _ value: [UInt8]) throws {
        try checkOpen()
        context.mutations += 1
        try key.withUnsafeBytes { k in _ = try context.put(state, key: k, value: value) }
    }

    /// Removes `key`; returns whether it existed.
    @discardableResult
    public func delete(_ key: [UInt8]) throws -> Bool {
        try checkOpen()
        context.mutations += 1
        return try key.withUnsafeBytes { k in try context.delete(state, key: k) }
    }

    /// Removes every key with `lo ≤ key < hi` (nil = unbounded); returns how many.
    @discardableResult
    public func deleteRange(from lo: [UInt8]?, to hi: [UInt8]?) throws -> Int {
        try checkOpen()
        context.mutations += 1
        return try withOptionalBytes(lo) { lo in
            try withOptionalBytes(hi) { hi in try context.deleteRange(state, from: lo, to: hi) }
        }
    }

    /// A copy of the value of `key`, or nil.
    public func get(_ key: [UInt8]) throws -> [UInt8]? {
        try withValue(forKey: key) { $0.map { [UInt8]($0) } }
    }

    /// Calls `body` with the value bytes of `key` (nil if absent), without copying.
    public func withValue<R>(forKey key: [UInt8], _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        try checkOpen()
        return try key.withUnsafeBytes { try context.reader.withValue(state.root, $0, body) }
    }

    /// Visits entries with `lo ≤ key < hi` (nil = unbounded) in order (or reverse) until
    /// `body` returns false. `body` must not modify the bucket.
    public func scan(from lo: [UInt8]?, to hi: [UInt8]?, reverse: Bool = false,
                     _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool) throws {
        try checkOpen()
        try withOptionalBytes(lo) { lo in
            try withOptionalBytes(hi) { hi in
                _ = try context.reader.scan(state.root, from: lo, to: hi, reverse: reverse, body)
            }
        }
    }

    /// A cursor over this bucket (see `Cursor`: modifying the bucket invalidates it).
    public func makeCursor() -> Cursor {
        precondition(context.open, "WriteBucket used outside its update closure")
        return Cursor(tree: TreeCursor(reader: context.reader, root: state.root), scope: nil, context: context)
    }
}

/// Format features a writer can require of the file (sticky meta flags; see
/// `pagestore-format.md`, "Meta flags").
public enum PageFileFeature: Sendable {
    /// MVCC's write-buffer bucket (session 13): records may live outside `mvcc.records`.
    case writeBuffer

    var flag: UInt32 {
        switch self {
        case .writeBuffer: Meta.writeBuffer
        }
    }
}
