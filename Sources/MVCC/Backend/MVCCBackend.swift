/// The persistence the MVCC layer needs from the node's file: named buckets of ordered
/// byte keys, consistent read snapshots and atomic write transactions. `PageStoreBackend`
/// implements it over PageStore; `InMemoryBackend` over sorted arrays (tests).
///
/// Byte buffers handed to `scan` bodies are valid only during the call.
public protocol MVCCReadTxn {
    func get(_ bucket: MVCCBucket, _ key: [UInt8]) throws -> [UInt8]?
    /// Calls `body` with the value of `key` (nil when absent) without copying it.
    func withValue<R>(_ bucket: MVCCBucket, _ key: [UInt8], _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R
    /// As `withValue` with the key given as raw bytes (valid only during the call).
    func withValue<R>(_ bucket: MVCCBucket, rawKey: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R
    /// Visits `from <= key < to` (to nil: no end) in key order, or reverse order, until
    /// `body` returns false.
    func scan(
        _ bucket: MVCCBucket, from: [UInt8], to: [UInt8]?, reverse: Bool,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
    ) throws
    /// As `scan`, but of the bucket's ordered tree only: with a write buffer
    /// (`WriteBufferedBackend`) records not yet moved into `records` are not visited (the
    /// caller looks them up by key). Cheap where a merged `scan` would visit the whole buffer.
    /// Default: `scan`.
    func scanStored(
        _ bucket: MVCCBucket, from: [UInt8], to: [UInt8]?, reverse: Bool,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
    ) throws
}

/// A write transaction: reads see its own earlier writes.
public protocol MVCCWriteTxn: MVCCReadTxn {
    func put(_ bucket: MVCCBucket, _ key: [UInt8], _ value: [UInt8]) throws
    func delete(_ bucket: MVCCBucket, _ key: [UInt8]) throws
    /// Deletes `from <= key < to`; returns how many keys were deleted.
    @discardableResult
    func deleteRange(_ bucket: MVCCBucket, from: [UInt8], to: [UInt8]?) throws -> Int
    /// A put that is part of a large key-ordered batch (snapshot ingest, restore): a write
    /// buffer stores it in the ordered tree at once. Default: `put`.
    func putInOrder(_ bucket: MVCCBucket, _ key: [UInt8], _ value: [UInt8]) throws
    /// Number of keys in `bucket` including this transaction's changes, when the backend
    /// knows it cheaply (nil otherwise). Default: nil.
    func keyCount(_ bucket: MVCCBucket) throws -> Int?
}

extension MVCCWriteTxn {
    public func keyCount(_ bucket: MVCCBucket) throws -> Int? { nil }

    public func putInOrder(_ bucket: MVCCBucket, _ key: [UInt8], _ value: [UInt8]) throws {
        try put(bucket, key, value)
    }
}

/// A transactional store of MVCC buckets; one per node file.
public protocol MVCCBackend: AnyObject, Sendable {
    /// Runs `body` on a consistent snapshot.
    func view<R>(_ body: (any MVCCReadTxn) throws -> R) throws -> R
    /// Runs `body` in one write transaction, committed durably on return, rolled back if it throws.
    func update<R>(_ body: (any MVCCWriteTxn) throws -> R) throws -> R
    /// One lookup on the latest committed state, as `view { $0.withValue(bucket, rawKey:, body) }`
    /// (the default) but as cheap as the backend can make it: the point-read path.
    func withLatestValue<R>(
        _ bucket: MVCCBucket, rawKey: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> R
    ) throws -> R
    /// Whether this backend reads records from the write-buffer bucket (`WriteBufferedBackend`).
    /// A range opened on a backend that does not, over a file whose buffer holds records,
    /// is refused (it would miss them). Default: false.
    var readsWriteBuffer: Bool { get }
}

extension MVCCBackend {
    public var readsWriteBuffer: Bool { false }

    public func withLatestValue<R>(
        _ bucket: MVCCBucket, rawKey: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> R
    ) throws -> R {
        try view { rtx in try rtx.withValue(bucket, rawKey: rawKey, body) }
    }
}

extension MVCCReadTxn {
    public func scanStored(
        _ bucket: MVCCBucket, from: [UInt8], to: [UInt8]?, reverse: Bool,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        try scan(bucket, from: from, to: to, reverse: reverse, body)
    }

    /// Default: copies the key (backends with a raw-key lookup override it).
    public func withValue<R>(
        _ bucket: MVCCBucket, rawKey: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> R
    ) throws -> R {
        try withValue(bucket, [UInt8](rawKey), body)
    }
}
