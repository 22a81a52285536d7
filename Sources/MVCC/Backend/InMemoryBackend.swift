import Synchronization

/// An `MVCCBackend` kept in memory as sorted arrays, for tests: "durable" state is whatever
/// the last successful `update` committed, so dropping a store without committing models a
/// crash. It counts writes per bucket so tests can prove an operation wrote no records.
public final class InMemoryBackend: MVCCBackend {
    /// One bucket as parallel sorted arrays.
    struct Table {
        var keys: [[UInt8]] = []
        var values: [[UInt8]] = []

        func index(_ key: [UInt8]) -> (Int, found: Bool) {
            var lo = 0, hi = keys.count
            while lo < hi {
                let mid = (lo + hi) >> 1
                let c = Bytes.compare(keys[mid], key)
                if c < 0 { lo = mid + 1 } else if c == 0 { return (mid, true) } else { hi = mid }
            }
            return (lo, false)
        }
    }

    struct Committed {
        var tables: [MVCCBucket: Table] = [:]
        var writes: [MVCCBucket: Int] = [:]
        var commits = 0
    }

    private let state = Mutex(Committed())
    private let writer = Mutex(())

    public init() {}

    /// Number of puts and deletes ever committed to `bucket`.
    public func writeCount(_ bucket: MVCCBucket) -> Int { state.withLock { $0.writes[bucket, default: 0] } }

    /// Number of committed update transactions.
    public var commitCount: Int { state.withLock { $0.commits } }

    /// All committed (key, value) pairs of a bucket in key order.
    public func contents(_ bucket: MVCCBucket) -> [([UInt8], [UInt8])] {
        state.withLock { s in
            let t = s.tables[bucket] ?? Table()
            return Array(zip(t.keys, t.values))
        }
    }

    public func view<R>(_ body: (any MVCCReadTxn) throws -> R) throws -> R {
        let snapshot = state.withLock { $0.tables }
        return try body(Txn(tables: snapshot))
    }

    public func update<R>(_ body: (any MVCCWriteTxn) throws -> R) throws -> R {
        try writer.withLock { _ in
            let txn = Txn(tables: state.withLock { $0.tables })
            let result = try body(txn)
            state.withLock { s in
                s.tables = txn.tables
                for (b, n) in txn.writes { s.writes[b, default: 0] += n }
                s.commits += 1
            }
            return result
        }
    }

    /// A transaction over a private copy of the tables (copy-on-write arrays).
    final class Txn: MVCCWriteTxn {
        var tables: [MVCCBucket: Table]
        var writes: [MVCCBucket: Int] = [:]

        init(tables: [MVCCBucket: Table]) { self.tables = tables }

        func get(_ bucket: MVCCBucket, _ key: [UInt8]) throws -> [UInt8]? {
            guard let t = tables[bucket] else { return nil }
            let (i, found) = t.index(key)
            return found ? t.values[i] : nil
        }

        func withValue<R>(_ bucket: MVCCBucket, _ key: [UInt8], _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
            guard let v = try get(bucket, key) else { return try body(nil) }
            return try v.withUnsafeBytes { try body($0) }
        }

        func scan(
            _ bucket: MVCCBucket, from: [UInt8], to: [UInt8]?, reverse: Bool,
            _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
        ) throws {
            guard let t = tables[bucket] else { return }
            let lo = t.index(from).0
            let hi = to.map { t.index($0).0 } ?? t.keys.count
            guard lo < hi else { return }
            let order: [Int] = reverse ? Array((lo..<hi).reversed()) : Array(lo..<hi)
            for i in order {
                let go = try t.keys[i].withUnsafeBytes { k in try t.values[i].withUnsafeBytes { v in try body(k, v) } }
                if !go { return }
            }
        }

        func keyCount(_ bucket: MVCCBucket) throws -> Int? { tables[bucket]?.keys.count ?? 0 }

        func put(_ bucket: MVCCBucket, _ key: [UInt8], _ value: [UInt8]) throws {
            writes[bucket, default: 0] += 1
            var t = tables.removeValue(forKey: bucket) ?? Table()
            let (i, found) = t.index(key)
            if found {
                t.values[i] = value
            } else {
                t.keys.insert(key, at: i)
                t.values.insert(value, at: i)
            }
            tables[bucket] = t
        }

        func delete(_ bucket: MVCCBucket, _ key: [UInt8]) throws {
            guard var t = tables.removeValue(forKey: bucket) else { return }
            let (i, found) = t.index(key)
            if found {
                writes[bucket, default: 0] += 1
                t.keys.remove(at: i)
                t.values.remove(at: i)
            }
            tables[bucket] = t
        }

        func deleteRange(_ bucket: MVCCBucket, from: [UInt8], to: [UInt8]?) throws -> Int {
            guard var t = tables.removeValue(forKey: bucket) else { return 0 }
            let lo = t.index(from).0
            let hi = max(lo, to.map { t.index($0).0 } ?? t.keys.count)
            t.keys.removeSubrange(lo..<hi)
            t.values.removeSubrange(lo..<hi)
            tables[bucket] = t
            writes[bucket, default: 0] += hi - lo
            return hi - lo
        }
    }
}
