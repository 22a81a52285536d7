/// A read-only view of one committed state, valid only inside the `PageFile.view` closure
/// that received it (using it later traps).
public struct ReadTransaction {
    let snapshot: Snapshot
    let scope: TransactionScope

    /// The txid of the commit this transaction sees.
    public var txid: UInt64 { snapshot.meta.txid }

    var reader: TreeReader { TreeReader(snapshot: snapshot, context: nil) }

    /// The bucket `name`, or nil if it does not exist.
    public func bucket(named name: [UInt8]) throws -> Bucket? {
        precondition(scope.open, "ReadTransaction used outside its view closure")
        let directory = TreeRoot(page: snapshot.meta.directory, node: nil)
        let header = try name.withUnsafeBytes { key in
            try reader.withValue(directory, key) { v in try v.map { v in try WriteContext.decodeHeader(v) } }
        }
        guard let header else { return nil }
        return Bucket(reader: reader, root: TreeRoot(page: header.root, node: nil), name: name, count: header.count, scope: scope)
    }

    /// The root of bucket `name` in this transaction's snapshot, or nil if it does not
    /// exist: a plain value for repeated point lookups with `withValue(in:rawKey:_:)`, which
    /// does no reference counting per lookup (unlike building a `Bucket`).
    public func bucketRoot(named name: [UInt8]) throws -> BucketRoot? {
        precondition(scope.open, "ReadTransaction used outside its view closure")
        let directory = TreeRoot(page: snapshot.meta.directory, node: nil)
        let header = try name.withUnsafeBytes { key in
            try reader.withValue(directory, key) { v in try v.map { v in try WriteContext.decodeHeader(v) } }
        }
        guard let header else { return nil }
        return BucketRoot(page: header.root, count: header.count, txid: snapshot.meta.txid)
    }

    /// Calls `body` with the value of `key` in the bucket `root` (nil if absent), without
    /// copying; the bytes are valid only during the call. `root` must come from this
    /// transaction.
    @inline(__always)
    public func withValue<R>(in root: BucketRoot, rawKey key: UnsafeRawBufferPointer,
                             _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        precondition(scope.open, "ReadTransaction used outside its view closure")
        precondition(root.txid == snapshot.meta.txid, "BucketRoot used with another transaction")
        guard let (leaf, i) = try snapshot.lookup(root: root.page, key: key) else { return try body(nil) }
        return try body(try snapshot.value(leaf, i))
    }

    /// Names of all buckets, in order.
    public func bucketNames() throws -> [[UInt8]] {
        precondition(scope.open, "ReadTransaction used outside its view closure")
        var names: [[UInt8]] = []
        try reader.scan(TreeRoot(page: snapshot.meta.directory, node: nil), from: nil, to: nil, reverse: false) { k, _ in
            names.append([UInt8](k))
            return true
        }
        return names
    }
}

/// A bucket's root page and key count as one read transaction sees them (see
/// `ReadTransaction.bucketRoot(named:)`); valid only with that transaction.
public struct BucketRoot: Sendable, Equatable {
    let page: PageID
    /// Number of keys.
    public let count: Int
    let txid: UInt64
}

/// The read side of one bucket (a named sub-tree of sorted, unique byte-string keys) in a
/// read transaction. Bytes passed to closures point into the file mapping and are valid only
/// inside the closure.
public struct Bucket {
    let reader: TreeReader
    let root: TreeRoot
    public let name: [UInt8]
    /// Number of keys.
    public let count: Int
    let scope: TransactionScope

    /// A copy of the value of `key`, or nil.
    public func get(_ key: [UInt8]) throws -> [UInt8]? {
        try withValue(forKey: key) { $0.map { [UInt8]($0) } }
    }

    /// Calls `body` with the value bytes of `key` (nil if absent), without copying.
    public func withValue<R>(forKey key: [UInt8], _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        precondition(scope.open, "Bucket used outside its transaction closure")
        return try key.withUnsafeBytes { try reader.withValue(root, $0, body) }
    }

    /// As `withValue(forKey:)` with the key given as raw bytes.
    public func withValue<R>(forRawKey key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        precondition(scope.open, "Bucket used outside its transaction closure")
        return try reader.withValue(root, key, body)
    }

    /// Visits entries with `lo ≤ key < hi` (nil = unbounded) in key order (or reverse order)
    /// until `body` returns false.
    public func scan(from lo: [UInt8]?, to hi: [UInt8]?, reverse: Bool = false,
                     _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool) throws {
        precondition(scope.open, "Bucket used outside its transaction closure")
        try withOptionalBytes(lo) { lo in
            try withOptionalBytes(hi) { hi in
                _ = try reader.scan(root, from: lo, to: hi, reverse: reverse, body)
            }
        }
    }

    /// A cursor over this bucket, positioned nowhere (call `first`, `last` or `seek`).
    public func makeCursor() -> Cursor {
        Cursor(tree: TreeCursor(reader: reader, root: root), scope: scope, context: nil)
    }
}

func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) throws -> R) rethrows -> R {
    guard let bytes else { return try body(nil) }
    return try bytes.withUnsafeBytes { try body($0) }
}

/// A position in a bucket: `seek` / `first` / `last` / `next` / `prev` return whether the
/// cursor is on an entry. Valid only inside its transaction closure; in a write transaction,
/// modifying the bucket invalidates the cursor until it is positioned again.
public struct Cursor {
    var tree: TreeCursor
    let scope: TransactionScope?
    let context: WriteContext?
    var generation: Int = 0

    init(tree: TreeCursor, scope: TransactionScope?, context: WriteContext?) {
        self.tree = tree
        self.scope = scope
        self.context = context
    }

    private func checkOpen() {
        if let scope { precondition(scope.open, "Cursor used outside its transaction closure") }
        if let context { precondition(context.open, "Cursor used outside its transaction closure") }
    }

    private mutating func sync() { generation = context?.mutations ?? 0 }

    private func checkCurrent() throws {
        if let context, context.mutations != generation {
            throw PageStoreError.failed(reason: "cursor used after its bucket was modified; seek again")
        }
    }

    /// Positions on the first entry with key ≥ `key`.
    @discardableResult public mutating func seek(_ key: [UInt8]) throws -> Bool {
        checkOpen(); sync()
        return try key.withUnsafeBytes { try tree.seek($0) }
    }

    @discardableResult public mutating func first() throws -> Bool { checkOpen(); sync(); return try tree.first() }
    @discardableResult public mutating func last() throws -> Bool { checkOpen(); sync(); return try tree.last() }
    @discardableResult public mutating func next() throws -> Bool { checkOpen(); try checkCurrent(); return try tree.next() }
    @discardableResult public mutating func prev() throws -> Bool { checkOpen(); try checkCurrent(); return try tree.prev() }

    /// Whether the cursor is on an entry.
    public var isValid: Bool { tree.isValid }

    /// Calls `body` with the current key and value bytes; nil if the cursor is not on an entry.
    public func withEntry<R>(_ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> R) throws -> R? {
        checkOpen()
        try checkCurrent()
        guard tree.isValid else { return nil }
        return try tree.withEntry(body)
    }

    /// Copies of the current key and value.
    public func entry() throws -> (key: [UInt8], value: [UInt8])? {
        try withEntry { ([UInt8]($0), [UInt8]($1)) }
    }
}
