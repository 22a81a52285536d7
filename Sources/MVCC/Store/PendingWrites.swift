/// Applied changes of one range not yet committed to the file: the batch the next
/// `commit(appliedIndex:)` writes in one backend transaction together with the applied
/// index. Reads consult it before the file. Owns only byte buffers.
struct PendingWrites {
    enum Value {
        case put([UInt8])
        case delete
    }

    /// Encoded record key → new record value, or its deletion (compaction).
    var records: [[UInt8]: Value] = [:]
    /// History entries added, in revision order.
    var history: [(Revision, [UInt8])] = []
    /// History entries removed by compaction.
    var historyDeletes: [(Revision, [UInt8])] = []
    /// Lease attachment key → attached (true) or detached (false).
    var leases: [[UInt8]: Bool] = [:]
    /// Whether applied index / revisions changed since the last commit.
    var metaDirty = false
    /// Whether the revoked-lease record changed since the last commit.
    var revokedLeasesDirty = false

    /// Empties the batch after a commit. Collections of an ordinary batch keep their storage
    /// (the next batch of similar size then neither reallocates nor rehashes while it grows);
    /// large ones are freed.
    mutating func reset() {
        let keep = records.count <= Self.keptCapacity
        records.removeAll(keepingCapacity: keep)
        history.removeAll(keepingCapacity: keep && history.count <= Self.keptCapacity)
        historyDeletes = []
        leases.removeAll(keepingCapacity: leases.count <= Self.keptCapacity)
        metaDirty = false
        revokedLeasesDirty = false
    }

    /// Entries up to which `reset` keeps a collection's storage (bounds what an idle range
    /// retains: ~50 KB of dictionary storage at most).
    static let keptCapacity = 1024

    var isEmpty: Bool {
        records.isEmpty && history.isEmpty && historyDeletes.isEmpty && leases.isEmpty && !metaDirty
    }

    /// Writes the batch (records in key order, then history, leases).
    func write(to wtx: any MVCCWriteTxn) throws {
        for (k, v) in records.sorted(by: { Bytes.less($0.key, $1.key) }) {
            switch v {
            case .put(let bytes): try wtx.put(.records, k, bytes)
            case .delete: try wtx.delete(.records, k)
            }
        }
        for (rev, key) in history { try wtx.put(.history, HistoryKey.make(rev, key), []) }
        for (rev, key) in historyDeletes { try wtx.delete(.history, HistoryKey.make(rev, key)) }
        for (k, attached) in leases.sorted(by: { Bytes.less($0.key, $1.key) }) {
            if attached { try wtx.put(.leases, k, []) } else { try wtx.delete(.leases, k) }
        }
    }
}

/// History bucket keys: revision (16 bytes BE) + user key, so the bucket is in revision
/// order and entries of different ranges sharing a main revision never collide.
enum HistoryKey {
    static func make(_ rev: Revision, _ key: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Revision.encodedCount + key.count)
        rev.append(to: &out)
        out.append(contentsOf: key)
        return out
    }

    static func decode(_ raw: UnsafeRawBufferPointer) -> (Revision, [UInt8])? {
        guard raw.count >= Revision.encodedCount else { return nil }
        return (Revision(decoding: raw, at: 0), Array(raw[Revision.encodedCount...]))
    }
}
