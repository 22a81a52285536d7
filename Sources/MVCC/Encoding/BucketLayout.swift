/// Names and key layouts of the MVCC buckets in the node's file (see docs/mvcc-format.md).
/// All ranges of a node share these buckets; a range's records are a key segment of
/// `records`, its metadata keys are prefixed by its range ID.
public enum MVCCBucket: CaseIterable, Sendable, Hashable {
    /// (user key, revision) → record value. See `RecordKey`, `RecordValue`.
    case records
    /// revision (16 bytes BE) → user key: the revision-ordered history, shared by the node.
    case history
    /// "r" + range ID (8 bytes BE) + field tag → field value. See `MetaKey`.
    case meta
    /// lease ID (8 bytes BE) + user key → empty: which keys each lease is attached to.
    case leases
    /// revision (16 bytes BE) + record-key prefix → record value: records not yet moved into
    /// `records` (the write buffer, session 13; see `WriteBufferedBackend`, `BufferKey`).
    case buffer

    /// The bucket's name in the file.
    public var name: [UInt8] {
        switch self {
        case .records: Array("mvcc.records".utf8)
        case .history: Array("mvcc.history".utf8)
        case .meta: Array("mvcc.meta".utf8)
        case .leases: Array("mvcc.leases".utf8)
        case .buffer: Array("mvcc.buffer".utf8)
        }
    }
}

/// The file's bucket name of each `MVCCBucket`, as one backend maps them: `standard` is the
/// user ranges' `mvcc.*`; `prefixed("system.")` gives the system range's reserved
/// `system.mvcc.*` buckets of the same file. Names are on-disk format: never change them.
/// Owns the four precomputed names (no allocation per lookup).
public struct MVCCBucketNames: Sendable, Equatable {
    let records: [UInt8]
    let history: [UInt8]
    let meta: [UInt8]
    let leases: [UInt8]
    let buffer: [UInt8]

    /// Every bucket's name with `prefix` in front (empty: the standard names).
    public init(prefix: [UInt8]) {
        records = prefix + MVCCBucket.records.name
        history = prefix + MVCCBucket.history.name
        meta = prefix + MVCCBucket.meta.name
        leases = prefix + MVCCBucket.leases.name
        buffer = prefix + MVCCBucket.buffer.name
    }

    /// `mvcc.records`, `mvcc.history`, `mvcc.meta`, `mvcc.leases`.
    public static let standard = MVCCBucketNames(prefix: [])

    /// The standard names behind `prefix` (e.g. `"system."`).
    public static func prefixed(_ prefix: String) -> MVCCBucketNames { MVCCBucketNames(prefix: Array(prefix.utf8)) }

    /// The name of `bucket` in the file.
    public subscript(_ bucket: MVCCBucket) -> [UInt8] {
        switch bucket {
        case .records: records
        case .history: history
        case .meta: meta
        case .leases: leases
        case .buffer: buffer
        }
    }
}

/// Keys of per-range metadata in the meta bucket.
enum MetaKey {
    /// One-byte field tags.
    enum Field: UInt8, CaseIterable {
        /// Range bounds: start length u32 BE, start, has-end u8, end length u32 BE, end.
        case bounds = 0x62  // "b"
        /// Opaque descriptor bytes (owned by the Node layer).
        case descriptor = 0x64  // "d"
        /// Raft applied index, u64 BE, committed with the state it describes.
        case appliedIndex = 0x61  // "a"
        /// Compacted main revision, i64 BE.
        case compactedRevision = 0x63  // "c"
        /// Current (last applied) main revision, i64 BE.
        case currentRevision = 0x72  // "r"
        /// The Node layer's revoked-lease record (opaque bytes; absent when empty).
        case revokedLeases = 0x6C  // "l"
    }

    static func key(_ range: UInt64, _ field: Field) -> [UInt8] {
        var out: [UInt8] = [0x72]
        appendBigEndian(range, to: &out)
        out.append(field.rawValue)
        return out
    }

    /// The meta-bucket prefix of one range: [prefix, prefix+1) holds all its fields.
    static func rangePrefix(_ range: UInt64) -> (lo: [UInt8], hi: [UInt8]) {
        var lo: [UInt8] = [0x72]
        appendBigEndian(range, to: &lo)
        var hi: [UInt8] = [0x72]
        if range == UInt64.max { hi = [0x73] } else { appendBigEndian(range + 1, to: &hi) }
        return (lo, hi)
    }

    static func encodeBounds(start: [UInt8], end: [UInt8]?) -> [UInt8] {
        var out: [UInt8] = []
        appendBytes(start, to: &out)
        out.append(end == nil ? 0 : 1)
        appendBytes(end ?? [], to: &out)
        return out
    }

    static func decodeBounds(_ raw: [UInt8]) -> (start: [UInt8], end: [UInt8]?)? {
        var r = ByteReader(raw)
        guard let start = r.bytes(), let has = r.u8(), let end = r.bytes(), r.atEnd else { return nil }
        return (start, has == 0 ? nil : end)
    }

    static func int64(_ v: Int64) -> [UInt8] {
        var out: [UInt8] = []
        appendBigEndian(UInt64(bitPattern: v), to: &out)
        return out
    }

    static func readInt64(_ raw: [UInt8]?) -> Int64? {
        guard let raw, raw.count == 8 else { return nil }
        return raw.withUnsafeBytes { Int64(bitPattern: readBigEndian($0, at: 0)) }
    }
}

/// Lease attachment keys: lease ID (u64 BE) + user key.
enum LeaseKey {
    static func make(_ lease: Int64, _ key: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(8 + key.count)
        appendBigEndian(UInt64(bitPattern: lease), to: &out)
        out.append(contentsOf: key)
        return out
    }
}

/// Length-prefixed field helpers (u32 BE length + bytes).
func appendBytes(_ bytes: [UInt8], to out: inout [UInt8]) {
    let n = UInt32(bytes.count).bigEndian
    withUnsafeBytes(of: n) { out.append(contentsOf: $0) }
    out.append(contentsOf: bytes)
}

/// A bounds-checked cursor over a byte array (for metadata and snapshot frames).
struct ByteReader {
    let data: [UInt8]
    var offset: Int

    init(_ data: [UInt8], offset: Int = 0) {
        self.data = data
        self.offset = offset
    }

    var atEnd: Bool { offset == data.count }
    var remaining: Int { data.count - offset }

    mutating func u8() -> UInt8? {
        guard offset < data.count else { return nil }
        defer { offset += 1 }
        return data[offset]
    }

    mutating func u32() -> UInt32? {
        guard remaining >= 4 else { return nil }
        var v: UInt32 = 0
        for i in 0..<4 { v = v << 8 | UInt32(data[offset + i]) }
        offset += 4
        return v
    }

    mutating func u64() -> UInt64? {
        guard remaining >= 8 else { return nil }
        var v: UInt64 = 0
        for i in 0..<8 { v = v << 8 | UInt64(data[offset + i]) }
        offset += 8
        return v
    }

    mutating func bytes() -> [UInt8]? {
        guard let n = u32(), remaining >= Int(n) else { return nil }
        defer { offset += Int(n) }
        return Array(data[offset..<offset + Int(n)])
    }
}
