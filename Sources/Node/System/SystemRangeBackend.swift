import MVCC
import PageStore

/// The `MVCCBackend` of the system range (range 1): the node's own data file, but every
/// MVCC bucket renamed with a `system.` prefix (`system.mvcc.records`, `system.mvcc.meta`,
/// …). Range 1 is an ordinary MVCC store spanning all keys of these reserved buckets, so its
/// records never meet the user ranges' segments (which together cover every byte string of
/// `mvcc.records`), while it keeps everything an MVCC store gives a replica: state committed
/// with its applied index, snapshots as segment streams, the index rebuilt at start-up.
///
/// Owns nothing but the reference to the file; transactions are the file's (one writer at a
/// time, shared with the user ranges' backend).
final class SystemRangeBackend: MVCCBackend {
    let file: PageFile

    init(file: PageFile) { self.file = file }

    /// The reserved name of `bucket` in the data file.
    static func name(of bucket: MVCCBucket) -> [UInt8] { Array("system.".utf8) + bucket.name }

    func view<R>(_ body: (any MVCCReadTxn) throws -> R) throws -> R {
        try file.view { rt in try body(ReadSide(copy rt)) }
    }

    func update<R>(_ body: (any MVCCWriteTxn) throws -> R) throws -> R {
        try file.update { wt in
            let side = WriteSide(wt)
            defer { side.closed = true }
            return try body(side)
        }
    }

    /// A read transaction seen through the reserved names.
    final class ReadSide: MVCCReadTxn {
        let txn: ReadTransaction

        init(_ txn: ReadTransaction) { self.txn = txn }

        func get(_ bucket: MVCCBucket, _ key: [UInt8]) throws -> [UInt8]? {
            try txn.bucket(named: SystemRangeBackend.name(of: bucket))?.get(key)
        }

        func withValue<R>(_ bucket: MVCCBucket, _ key: [UInt8], _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
            guard let b = try txn.bucket(named: SystemRangeBackend.name(of: bucket)) else { return try body(nil) }
            return try b.withValue(forKey: key, body)
        }

        func scan(
            _ bucket: MVCCBucket, from: [UInt8], to: [UInt8]?, reverse: Bool,
            _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
        ) throws {
            try txn.bucket(named: SystemRangeBackend.name(of: bucket))?.scan(from: from, to: to, reverse: reverse, body)
        }
    }

    /// A write transaction seen through the reserved names; buckets are created on first write.
    final class WriteSide: MVCCWriteTxn {
        var txn: WriteTransaction
        var closed = false
        private var cache: [MVCCBucket: WriteBucket] = [:]

        init(_ txn: WriteTransaction) { self.txn = txn }

        private func existing(_ b: MVCCBucket) throws -> WriteBucket? {
            precondition(!closed, "system range write transaction used after commit")
            if let cached = cache[b] { return cached }
            let found = try txn.bucket(named: SystemRangeBackend.name(of: b))
            if let found { cache[b] = found }
            return found
        }

        private func writable(_ b: MVCCBucket) throws -> WriteBucket {
            if let found = try existing(b) { return found }
            let created = try txn.createBucketIfNeeded(named: SystemRangeBackend.name(of: b))
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
            try writable(bucket).put(key, value)
        }

        func delete(_ bucket: MVCCBucket, _ key: [UInt8]) throws {
            _ = try existing(bucket)?.delete(key)
        }

        func deleteRange(_ bucket: MVCCBucket, from: [UInt8], to: [UInt8]?) throws -> Int {
            try existing(bucket)?.deleteRange(from: from, to: to) ?? 0
        }
    }
}
