import API
import Base
import Foundation
import MVCC
import Node

/// Produces a cluster backup (`ClusterBackup` content) as a pull-based chunk stream for
/// Maintenance.Snapshot, from any node, whatever replicas it holds.
///
/// Consistency: one cluster revision R, taken fresh from the oracle when the backup starts.
/// Every range is read through the router at revision R (linearizable reads on the range
/// leaders, each range closed at R first), in pages in key order, so the backup holds
/// exactly the key-values of the whole keyspace as of R — every write acknowledged before
/// the backup started, none that got a revision after R. A range that compacts past R
/// while it is read fails the backup (etcd's "required revision has been compacted");
/// nothing partial is ever produced: a routing table that does not tile the keyspace is
/// refused up front. Leases are not versioned: the lease list is read before R and after
/// the data; a lease granted after R is kept (it expires on its own); a lease some key
/// references that was removed meanwhile (revoked after R) is kept with its granted TTL from
/// the first list, or 1 s when it was granted after that list — restored, it expires at
/// once and deletes its keys, as it did in the source cluster after R.
///
/// Memory: one page of key-values (about `pageBytes`, 1 MiB) plus the referenced lease IDs.
struct ClusterBackupSource: Sendable {
    var clusterID: UInt64
    /// A fresh revision from the oracle (the backup point R).
    var revision: @Sendable () async throws -> Int64
    /// The routing table: every user range's descriptor.
    var routes: @Sendable () async throws -> [RangeDescriptor]
    /// KV.Range through the router.
    var read: @Sendable (RangeRequest) async throws -> RangeResponse
    /// Every lease with its granted TTL.
    var leases: @Sendable () async throws -> [LeaseRecord]
    /// Bytes of key-values per page (and per chunk), about.
    var pageBytes = 1 << 20

    /// Why a backup is refused.
    struct Refused: Error, CustomStringConvertible {
        var description: String
    }

    /// Fixes R and the range layout, then returns the stream (read lazily).
    func stream() async throws -> SnapshotStream {
        let before = try await leases()
        let r = try await revision()
        let ranges = try await routes().sorted { $0.startKey.lexicographicallyPrecedes($1.startKey) }
        var next: [UInt8]? = []
        for d in ranges {
            guard let expected = next, d.startKey == expected else {
                throw Refused(description: "flotilla: the routing table does not tile the keyspace (\(ranges.count) ranges); refusing a partial backup")
            }
            next = d.endKey
        }
        guard next == nil, !ranges.isEmpty else {
            throw Refused(description: "flotilla: the routing table does not reach the end of the keyspace; refusing a partial backup")
        }
        let producer = BackupProducer(source: self, revision: r, ranges: ranges, leasesBefore: before)
        let chunks = AsyncThrowingStream<[UInt8], any Error>(unfolding: { try await producer.next() })
        return SnapshotStream(totalBytes: nil, chunks: chunks, revision: r)
    }
}

/// The backup stream's state: which range and key come next. `@unchecked Sendable`: its
/// mutable state is touched only by `next()`, which `AsyncThrowingStream(unfolding:)` calls
/// one at a time (never concurrently), each call after the previous one returned.
final class BackupProducer: @unchecked Sendable {
    let source: ClusterBackupSource
    let revision: Int64
    let ranges: [RangeDescriptor]
    let leasesBefore: [LeaseRecord]
    var rangeIndex = -1  // -1: header not sent yet
    var cursor: [UInt8]?
    var limit: Int64 = 256
    var summary = ClusterBackup.Summary()
    var referencedLeases = Set<Int64>()
    var finished = false

    init(source: ClusterBackupSource, revision: Int64, ranges: [RangeDescriptor], leasesBefore: [LeaseRecord]) {
        self.source = source
        self.revision = revision
        self.ranges = ranges
        self.leasesBefore = leasesBefore
    }

    func emit(_ bytes: [UInt8]) -> [UInt8] {
        summary.contentBytes += UInt64(bytes.count)
        return bytes
    }

    /// The next chunk: header and range frames, then one page of key-values per call, then
    /// the leases and the end frame; nil afterwards.
    func next() async throws -> [UInt8]? {
        if finished { return nil }
        if rangeIndex < 0 {
            let created = Int64(Date().timeIntervalSince1970 * 1000)
            var out = ClusterBackup.encode(ClusterBackup.Header(revision: revision, clusterID: source.clusterID,
                                                                createdUnixMs: created))
            for d in ranges { out += ClusterBackup.encode(.range(d)) }
            summary.ranges = UInt32(ranges.count)
            rangeIndex = 0
            cursor = ranges.first.map { $0.startKey.isEmpty ? [0] : $0.startKey }
            return emit(out)
        }
        while rangeIndex < ranges.count {
            let d = ranges[rangeIndex]
            guard let key = cursor, d.endKey.map({ key.lexicographicallyPrecedes($0) }) ?? true else {
                advanceRange()
                continue
            }
            let page = try await source.read(RangeRequest(key: key, rangeEnd: d.endKey ?? [0], limit: limit, revision: revision))
            guard let last = page.kvs.last else {
                advanceRange()
                continue
            }
            cursor = page.more ? last.key + [0] : nil
            let bytes = page.kvs.reduce(0) { $0 + $1.key.count + $1.value.count + 48 }
            limit = Int64(min(4_096, max(16, source.pageBytes / max(1, bytes / page.kvs.count))))
            for kv in page.kvs where kv.lease != 0 { referencedLeases.insert(kv.lease) }
            summary.keys += UInt64(page.kvs.count)
            return emit(ClusterBackup.encode(.kvs(d.rangeID, page.kvs)))
        }
        let leases = try await finalLeases()
        summary.leases = UInt32(leases.count)
        var out = ClusterBackup.encode(.leases(leases))
        summary.contentBytes += UInt64(out.count)
        out += ClusterBackup.encode(.end(summary))
        finished = true
        return out
    }

    func advanceRange() {
        rangeIndex += 1
        if rangeIndex < ranges.count {
            let s = ranges[rangeIndex].startKey
            cursor = s.isEmpty ? [0] : s
        }
    }

    /// The lease list after the data, completed with referenced leases removed meanwhile.
    func finalLeases() async throws -> [ClusterBackup.Lease] {
        var byID: [Int64: Int64] = [:]
        for l in try await source.leases() { byID[l.id] = l.grantedTTL }
        let earlier = Dictionary(leasesBefore.map { ($0.id, $0.grantedTTL) }, uniquingKeysWith: { a, _ in a })
        for id in referencedLeases where byID[id] == nil { byID[id] = earlier[id] ?? 1 }
        return byID.keys.sorted().map { ClusterBackup.Lease(id: $0, ttl: byID[$0]!) }
    }
}
