import Base
import MVCC

/// The replicated state of the system range and its deterministic apply. The state is
/// ordinary MVCC key-values in range 1's store (which lives in the reserved `system.*`
/// buckets, see `NodeHost.systemBucketNames`):
///
/// | key | value |
/// |---|---|
/// | `oracle/hwm` | i64 BE: the oracle's high-water mark (no revision above it was ever handed out) |
/// | `lease/` + id (u64 BE, two's complement) | i64 BE: the lease's granted TTL in seconds; then a byte 1 once its revoke has begun ("revoking") |
///
/// Range 1's own MVCC revisions count its writes (1, 2, 3, …); they are internal to the
/// system range and unrelated to the cluster-wide revisions the oracle hands out. The history
/// is compacted every `compactEveryRevisions` writes, at apply, on every replica alike.
/// Owns nothing: every function works on the store it is given.
enum SystemStateMachine {
    static let oracleKey = Array("oracle/hwm".utf8)
    static let leasePrefix = Array("lease/".utf8)
    /// Range 1's history is compacted when its revision reaches a multiple of this.
    static let compactEveryRevisions: Int64 = 1_024
    /// An allocation above this many revisions is refused (a bug, not a load).
    static let maxAllocation: Int64 = 1 << 40

    static func leaseKey(_ id: Int64) -> [UInt8] {
        var key = leasePrefix
        withUnsafeBytes(of: UInt64(bitPattern: id).bigEndian) { key.append(contentsOf: $0) }
        return key
    }

    static func int64Value(_ v: Int64) -> [UInt8] {
        withUnsafeBytes(of: UInt64(bitPattern: v).bigEndian) { Array($0) }
    }

    static func int64(from bytes: [UInt8]) -> Int64? {
        guard bytes.count == 8 else { return nil }
        return Int64(bitPattern: bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }

    // MARK: reads

    /// The persisted high-water mark (0 before the first allocation).
    static func highWaterMark(_ store: MVCCStore) throws -> Int64 {
        guard let kv = try store.range(RangeRequest(key: oracleKey)).kvs.first else { return 0 }
        guard let v = int64(from: kv.value) else { throw MVCCError.corruptMetadata("system range: bad oracle mark") }
        return v
    }

    /// One lease record of range 1: the granted TTL, whether its revoke has begun
    /// (`markLeaseRevoking`), and its grant revision (the record's create revision, which the
    /// revoking mark — a rewrite of the same key — keeps).
    struct LeaseEntry: Equatable {
        var ttl: Int64
        var revoking: Bool
        var grantRevision: Int64
    }

    /// A lease record's value: the TTL, plus one byte 1 once the lease is revoking.
    static func leaseValue(ttl: Int64, revoking: Bool) -> [UInt8] {
        revoking ? int64Value(ttl) + [1] : int64Value(ttl)
    }

    /// Decodes a lease record's value (nil: corrupt).
    static func decodeLeaseValue(_ bytes: [UInt8]) -> (ttl: Int64, revoking: Bool)? {
        if bytes.count == 8 { return int64(from: bytes).map { ($0, false) } }
        guard bytes.count == 9, bytes[8] == 1 else { return nil }
        return int64(from: Array(bytes[..<8])).map { ($0, true) }
    }

    /// The record of lease `id`, nil when it is not recorded.
    static func leaseEntry(_ id: Int64, _ store: MVCCStore) throws -> LeaseEntry? {
        guard let kv = try store.range(RangeRequest(key: leaseKey(id))).kvs.first else { return nil }
        guard let v = decodeLeaseValue(kv.value) else { throw MVCCError.corruptMetadata("system range: bad lease record") }
        return LeaseEntry(ttl: v.ttl, revoking: v.revoking, grantRevision: kv.createRevision)
    }

    /// The granted TTL of lease `id` (revoking or not), nil when it is not recorded.
    static func lease(_ id: Int64, _ store: MVCCStore) throws -> Int64? {
        try leaseEntry(id, store)?.ttl
    }

    /// Every lease record (revoking ones included).
    static func leaseEntries(_ store: MVCCStore) throws -> [Int64: LeaseEntry] {
        var end = leasePrefix
        end[end.count - 1] += 1
        var out: [Int64: LeaseEntry] = [:]
        for kv in try store.range(RangeRequest(key: leasePrefix, rangeEnd: end)).kvs {
            guard kv.key.count == leasePrefix.count + 8, let v = decodeLeaseValue(kv.value),
                let id = int64(from: Array(kv.key[leasePrefix.count...]))
            else { throw MVCCError.corruptMetadata("system range: bad lease record") }
            out[id] = LeaseEntry(ttl: v.ttl, revoking: v.revoking, grantRevision: kv.createRevision)
        }
        return out
    }


    // MARK: apply

    /// Applies `command` to range 1's `store`. Deterministic: depends only on the store's
    /// state and the command. Throws MVCC errors only (the store is then unchanged).
    static func apply(_ command: SystemCommand, to store: MVCCStore) throws -> SystemAnswer {
        switch command {
        case .allocateRevisions(let count):
            let mark = try highWaterMark(store)
            let size = min(max(count, 1), maxAllocation)
            try write(store) { rev in
                _ = try store.put(PutRequest(key: oracleKey, value: int64Value(mark + size)), revision: rev)
            }
            return .revisions(first: mark + 1, last: mark + size)
        case .grantLease(let id, let ttl):
            if try lease(id, store) != nil { return .leaseExists(id: id) }
            try write(store) { rev in
                _ = try store.put(PutRequest(key: leaseKey(id), value: int64Value(ttl)), revision: rev)
            }
            return .leaseGranted(id: id, ttl: ttl)
        case .removeLease(let id):
            guard try lease(id, store) != nil else { return .leaseRemoved(existed: false) }
            try write(store) { rev in
                _ = try store.deleteRange(DeleteRangeRequest(key: leaseKey(id)), revision: rev)
            }
            return .leaseRemoved(existed: true)
        case .markLeaseRevoking(let id):
            guard let entry = try leaseEntry(id, store) else { return .leaseUnknown(id: id) }
            if !entry.revoking {
                // A rewrite of the same key: its create revision (the grant's) is kept.
                try write(store) { rev in
                    _ = try store.put(PutRequest(key: leaseKey(id), value: leaseValue(ttl: entry.ttl, revoking: true)),
                                      revision: rev)
                }
            }
            return .leaseRevoking(id: id, ttl: entry.ttl, grantRevision: entry.grantRevision)
        }
    }

    /// Runs one write at range 1's next revision, then compacts its history now and then.
    private static func write(_ store: MVCCStore, _ body: (Int64) throws -> Void) throws {
        let rev = store.currentRevision + 1
        try body(rev)
        if rev % compactEveryRevisions == 0 { try store.compact(rev) }
    }
}
