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
}

/// A write transaction: reads see its own earlier writes.
public protocol MVCCWriteTxn: MVCCReadTxn {
    func put(_ bucket: MVCCBucket, _ key: [UInt8], _ value: [UInt8]) throws
    func delete(_ bucket: MVCCBucket, _ key: [UInt8]) throws
    /// Deletes `from <= key < to`; returns how many keys were deleted.
    @discardableResult
    func deleteRange(_ bucket: MVCCBucket, from: [UInt8], to: [UInt8]?) throws -> Int
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
}

extension MVCCBackend {
    public func withLatestValue<R>(
        _ bucket: MVCCBucket, rawKey: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> R
    ) throws -> R {
        try view { rtx in try rtx.withValue(bucket, rawKey: rawKey, body) }
    }
}

extension MVCCReadTxn {
    /// Default: copies the key (backends with a raw-key lookup override it).
    public func withValue<R>(
        _ bucket: MVCCBucket, rawKey: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> R
    ) throws -> R {
        try withValue(bucket, [UInt8](rawKey), body)
    }
}
